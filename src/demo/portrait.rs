//! Synthetic ID-style portraits for the demo's people, so that the gate screen, the people list and the
//! profile show a face as they would for real people. A portrait is a small PNG drawn from the prison's
//! seed and the person's id alone (the same person always gets the same bytes): a plain light
//! background, an oval head in one of several skin tones, hair of several shapes and colours, eyes,
//! brows, nose and mouth, and neck and shoulders in clothes whose colour tells the category — an orange
//! or yellow uniform for inmates, a dark blue jacket with a shirt, tie and badge for staff, grey or green
//! everyday clothes for visitors. Nobody could take it for a photograph, which is the point.
//!
//! This module only draws and encodes; sealing the photo and storing it is [`super::seed`]'s. Shapes are
//! filled from signed distances (negative inside), so edges are smoothed over one pixel without
//! supersampling, and the arithmetic is plain `f32` (no transcendental functions), so the bytes do not
//! depend on the platform.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder as _, RgbImage};

use super::plan::{DemoRng, PersonPlan};
use crate::people::Category;

/// Portrait width in pixels.
pub const WIDTH: u32 = 240;
/// Portrait height in pixels.
pub const HEIGHT: u32 = 300;

/// Why a portrait could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PortraitError {
    /// The PNG encoder refused the image (it never should: the buffer is a whole RGB image).
    #[error("encoding a portrait as PNG")]
    Encode(#[source] image::ImageError),
}

/// A colour, channels in `0.0..=255.0`.
type Colour = [f32; 3];

const fn rgb(r: u8, g: u8, b: u8) -> Colour {
    [r as f32, g as f32, b as f32]
}

/// `c` darkened (`k` < 1) or lightened (`k` > 1).
fn shade(c: Colour, k: f32) -> Colour {
    c.map(|v| (v * k).min(255.0))
}

/// `a` and `b` mixed, `t` of `b`.
fn mix(a: Colour, b: Colour, t: f32) -> Colour {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

const BACKGROUNDS: [Colour; 4] = [rgb(226, 232, 238), rgb(238, 235, 226), rgb(226, 234, 228), rgb(234, 234, 236)];
const SKIN: [Colour; 7] = [
    rgb(62, 38, 28),
    rgb(84, 52, 37),
    rgb(104, 66, 44),
    rgb(124, 81, 54),
    rgb(146, 100, 68),
    rgb(172, 124, 88),
    rgb(198, 154, 118),
];
const HAIR: [Colour; 4] = [rgb(24, 21, 21), rgb(38, 29, 25), rgb(56, 40, 31), rgb(74, 52, 38)];
const GREY_HAIR: [Colour; 2] = [rgb(112, 108, 106), rgb(158, 156, 154)];
const INMATE: [Colour; 3] = [rgb(232, 114, 32), rgb(240, 136, 40), rgb(236, 186, 44)];
const STAFF: [Colour; 2] = [rgb(26, 40, 82), rgb(30, 48, 96)];
const VISITOR: [Colour; 4] = [rgb(122, 126, 130), rgb(150, 152, 150), rgb(86, 122, 88), rgb(108, 120, 72)];
const TIES: [Colour; 3] = [rgb(20, 26, 48), rgb(110, 28, 36), rgb(60, 64, 72)];
const WRAPS: [Colour; 4] = [rgb(196, 48, 48), rgb(36, 128, 128), rgb(120, 62, 140), rgb(214, 160, 36)];

/// The shape of the hair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hair {
    /// Shaved close: a shadow of the hair's colour.
    Shaved,
    /// Short, with a hairline that recedes by the given pixels.
    Short(u8),
    /// A rounded afro of the given extra height.
    Afro(u8),
    /// Long braids down to the shoulders.
    Long,
    /// Short with a bun on top.
    Bun,
    /// A cloth head wrap of this colour.
    Wrap(usize),
}

/// Everything drawn for one person, chosen at random once.
#[derive(Debug, Clone, PartialEq)]
struct Look {
    background: Colour,
    skin: Colour,
    hair: Hair,
    hair_colour: Colour,
    /// Head centre and radii.
    head: (f32, f32, f32, f32),
    neck: f32,
    shoulders: f32,
    eye_dx: f32,
    eye_y: f32,
    mouth_w: f32,
    smile: bool,
    moustache: bool,
    beard: bool,
    glasses: bool,
    earrings: bool,
    category: Category,
    clothes: Colour,
    tie: Colour,
}

/// The stream of [`DemoRng`] for `id`'s portrait (FNV-1a of the id, apart from the plan's streams).
fn stream(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"portrait:".iter().chain(id.as_bytes()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn pick<T: Copy>(rng: &mut DemoRng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// A number in `lo..=hi`, in steps of 1/4.
fn between(rng: &mut DemoRng, lo: f32, hi: f32) -> f32 {
    let steps = ((hi - lo) * 4.0) as u64;
    lo + rng.below(steps + 1) as f32 / 4.0
}

impl Look {
    fn draw(seed: u64, person: &PersonPlan) -> Look {
        let mut rng = DemoRng::new(seed, stream(&person.id));
        let woman = person.is_woman();
        let born = person.date_of_birth.as_deref().and_then(|d| d.get(..4)).and_then(|y| y.parse::<u32>().ok());
        let grey = born.is_some_and(|y| y < 1976) && rng.chance(45);
        let hair = if woman {
            match rng.below(if person.category == Category::Inmate { 4 } else { 6 }) {
                0 => Hair::Short(0),
                1 => Hair::Long,
                2 => Hair::Bun,
                3 => Hair::Afro(rng.below(16) as u8 + 10),
                _ => Hair::Wrap(rng.below(WRAPS.len() as u64) as usize),
            }
        } else {
            match rng.below(6) {
                0 | 1 => Hair::Shaved,
                2 | 3 => Hair::Short(if grey || rng.chance(20) { rng.below(14) as u8 + 6 } else { 0 }),
                4 => Hair::Short(0),
                _ => Hair::Afro(rng.below(10) as u8 + 4),
            }
        };
        let hair_colour = if grey { pick(&mut rng, &GREY_HAIR) } else { pick(&mut rng, &HAIR) };
        // Mostly the darker tones, as in the Congo; now and then a lighter one.
        let skin = SKIN[if rng.chance(85) { rng.below(5) } else { 5 + rng.below(2) } as usize];
        let (rx, ry) = if woman {
            (between(&mut rng, 50.0, 56.0), between(&mut rng, 66.0, 72.0))
        } else {
            (between(&mut rng, 54.0, 61.0), between(&mut rng, 69.0, 77.0))
        };
        let cy = between(&mut rng, 126.0, 134.0);
        let (clothes, tie) = match person.category {
            Category::Inmate => (pick(&mut rng, &INMATE), rgb(0, 0, 0)),
            Category::Staff => (pick(&mut rng, &STAFF), pick(&mut rng, &TIES)),
            Category::Visitor => (pick(&mut rng, &VISITOR), rgb(0, 0, 0)),
        };
        Look {
            background: pick(&mut rng, &BACKGROUNDS),
            skin,
            hair,
            hair_colour,
            head: (120.0 + between(&mut rng, -2.0, 2.0), cy, rx, ry),
            neck: if woman { between(&mut rng, 19.0, 22.0) } else { between(&mut rng, 23.0, 28.0) },
            shoulders: if woman { between(&mut rng, 104.0, 114.0) } else { between(&mut rng, 116.0, 128.0) },
            eye_dx: between(&mut rng, 19.0, 24.0),
            eye_y: cy + between(&mut rng, -4.0, 4.0),
            mouth_w: between(&mut rng, 11.0, 16.0),
            smile: rng.chance(40),
            moustache: !woman && rng.chance(22),
            beard: !woman && rng.chance(15),
            glasses: rng.chance(if person.category == Category::Inmate { 6 } else { 20 }),
            earrings: woman && person.category != Category::Inmate && rng.chance(60),
            category: person.category,
            clothes,
            tie,
        }
    }
}

/// An axis-aligned ellipse.
#[derive(Debug, Clone, Copy)]
struct Ellipse {
    cx: f32,
    cy: f32,
    rx: f32,
    ry: f32,
}

impl Ellipse {
    const fn new(cx: f32, cy: f32, rx: f32, ry: f32) -> Ellipse {
        Ellipse { cx, cy, rx, ry }
    }

    /// Signed distance to the outline, to first order (exact on it, close within a few pixels).
    fn sd(&self, x: f32, y: f32) -> f32 {
        let (u, v) = ((x - self.cx) / self.rx, (y - self.cy) / self.ry);
        let k = (u * u + v * v).sqrt();
        let (gu, gv) = (u / self.rx, v / self.ry);
        let g = (gu * gu + gv * gv).sqrt();
        if g < 1e-6 { -self.rx.min(self.ry) } else { (k - 1.0) * k / g }
    }

    /// Distance from the centre relative to the radii: 0 at the centre, 1 on the outline.
    fn radius(&self, x: f32, y: f32) -> f32 {
        let (u, v) = ((x - self.cx) / self.rx, (y - self.cy) / self.ry);
        (u * u + v * v).sqrt()
    }

    fn bounds(&self) -> Bounds {
        Bounds(self.cx - self.rx, self.cy - self.ry, self.cx + self.rx, self.cy + self.ry)
    }
}

/// Signed distance to the segment from `a` to `b` thickened by `r`.
fn capsule(x: f32, y: f32, a: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let (px, py, bx, by) = (x - a.0, y - a.1, b.0 - a.0, b.1 - a.1);
    let t = ((px * bx + py * by) / (bx * bx + by * by)).clamp(0.0, 1.0);
    let (dx, dy) = (px - bx * t, py - by * t);
    (dx * dx + dy * dy).sqrt() - r
}

/// Signed distance to the inside of the triangle `a b c` (corners given clockwise on screen), exact
/// along the edges.
fn triangle(x: f32, y: f32, a: (f32, f32), b: (f32, f32), c: (f32, f32)) -> f32 {
    let edge = |p: (f32, f32), q: (f32, f32)| {
        let (ex, ey) = (q.0 - p.0, q.1 - p.1);
        let len = (ex * ex + ey * ey).sqrt();
        ((x - p.0) * ey - (y - p.1) * ex) / len
    };
    edge(a, b).max(edge(b, c)).max(edge(c, a))
}

/// A rectangle `x0, y0, x1, y1` that holds a shape.
#[derive(Debug, Clone, Copy)]
struct Bounds(f32, f32, f32, f32);

/// The image being drawn.
struct Canvas(RgbImage);

impl Canvas {
    /// Paints the shape `sd` (negative inside) within `b`, coloured by `colour` at each pixel, blending
    /// its edge over one pixel.
    fn paint(&mut self, b: Bounds, sd: impl Fn(f32, f32) -> f32, colour: impl Fn(f32, f32) -> Colour) {
        let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
        let (x0, y0) = (clamp(b.0 - 1.0, WIDTH), clamp(b.1 - 1.0, HEIGHT));
        let (x1, y1) = (clamp(b.2 + 2.0, WIDTH), clamp(b.3 + 2.0, HEIGHT));
        for y in y0..y1 {
            for x in x0..x1 {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let cover = (0.5 - sd(fx, fy)).clamp(0.0, 1.0);
                if cover <= 0.0 {
                    continue;
                }
                let c = colour(fx, fy);
                let px = self.0.get_pixel_mut(x, y);
                for (channel, want) in px.0.iter_mut().zip(c) {
                    let v = f32::from(*channel) + (want - f32::from(*channel)) * cover;
                    *channel = (v + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }

    /// [`Canvas::paint`] in one colour.
    fn fill(&mut self, b: Bounds, sd: impl Fn(f32, f32) -> f32, colour: Colour) {
        self.paint(b, sd, |_, _| colour);
    }
}

/// Draws `look`.
fn render(look: &Look) -> RgbImage {
    let bg = look.background.map(|v| v as u8);
    let mut c = Canvas(RgbImage::from_pixel(WIDTH, HEIGHT, image::Rgb(bg)));
    let (cx, cy, rx, ry) = look.head;
    let head = Ellipse::new(cx, cy, rx, ry);
    // Where the face shows under the hair: a lower oval whose top is the hairline.
    let face = |drop: f32| Ellipse::new(cx, cy + ry * 0.30 + drop, rx * 0.93, ry * 0.86);

    // Long hair falls behind the neck and shoulders.
    if look.hair == Hair::Long {
        let back = Ellipse::new(cx, cy + 34.0, rx + 13.0, ry + 40.0);
        c.fill(back.bounds(), |x, y| back.sd(x, y).max(cy - 20.0 - y), shade(look.hair_colour, 1.05));
    }

    // Neck, then the shoulders over its foot.
    let neck_top = cy + ry * 0.55;
    let (nx0, nx1) = (cx - look.neck, cx + look.neck);
    let neck_sd = |x: f32, y: f32| (nx0 - x).max(x - nx1).max(neck_top - y).max(y - 262.0);
    let neck_colour = |x: f32, _: f32| shade(look.skin, 0.80 + 0.08 * (1.0 - ((x - cx) / look.neck).abs().min(1.0)));
    c.paint(Bounds(nx0, neck_top, nx1, 262.0), neck_sd, neck_colour);
    let torso = Ellipse::new(120.0, 322.0, look.shoulders, 84.0);
    c.paint(
        torso.bounds(),
        |x, y| torso.sd(x, y),
        |x, _| {
            let t = (x - 120.0) / look.shoulders;
            shade(look.clothes, 1.04 - 0.16 * t * t)
        },
    );
    clothes(&mut c, look, &torso, &neck_colour);

    // Ears, the head over them, then the hair.
    for side in [-1.0, 1.0] {
        let ear = Ellipse::new(cx + side * (rx - 2.0), cy + 6.0, 9.0, 15.0);
        c.fill(ear.bounds(), |x, y| ear.sd(x, y), shade(look.skin, 0.9));
    }
    if look.earrings {
        for side in [-1.0, 1.0] {
            let ring = Ellipse::new(cx + side * (rx + 2.0), cy + 23.0, 2.6, 2.6);
            c.fill(ring.bounds(), |x, y| ring.sd(x, y), rgb(222, 186, 82));
        }
    }
    c.paint(
        head.bounds(),
        |x, y| head.sd(x, y),
        |x, y| {
            let t = ((head.radius(x, y) - 0.55) / 0.45).clamp(0.0, 1.0);
            let light = 1.0 + 0.05 * ((cx - x) / rx + (cy - y) / ry) * 0.5;
            shade(look.skin, (1.0 - 0.13 * t * t) * light)
        },
    );
    hair(&mut c, look, &face);
    features(&mut c, look);
    c.0
}

/// The neckline and what the category wears on it, within the `torso`; the skin in a V-neck is coloured
/// as the neck (`neck_colour`).
fn clothes(c: &mut Canvas, look: &Look, torso: &Ellipse, neck_colour: &dyn Fn(f32, f32) -> Colour) {
    let (cx, n) = (look.head.0, look.neck);
    // Every piece of the neckline is cut to the shoulders' outline, so none of them shows an edge above it.
    let on = |sd: f32, x: f32, y: f32| sd.max(torso.sd(x, y));
    match look.category {
        Category::Inmate => {
            // A V-neck with a darker hem.
            let v = |x: f32, y: f32| triangle(x, y, (cx - n - 3.0, 220.0), (cx + n + 3.0, 220.0), (cx, 280.0));
            let b = Bounds(cx - n - 10.0, 220.0, cx + n + 10.0, 290.0);
            c.fill(b, |x, y| on(v(x, y) - 3.0, x, y), shade(look.clothes, 0.8));
            c.paint(b, |x, y| on(v(x, y), x, y), neck_colour);
        }
        Category::Staff => {
            // A white shirt in the jacket's V, its collar, a tie, and a badge on the chest.
            let v = |x: f32, y: f32| triangle(x, y, (cx - n - 10.0, 220.0), (cx + n + 10.0, 220.0), (cx, 300.0));
            let b = Bounds(cx - n - 14.0, 220.0, cx + n + 14.0, 300.0);
            c.fill(b, |x, y| on(v(x, y) - 3.0, x, y), shade(look.clothes, 0.7));
            c.fill(b, |x, y| on(v(x, y), x, y), rgb(236, 238, 240));
            let collar = |x: f32, y: f32| triangle(x, y, (cx - n + 1.0, 220.0), (cx + n - 1.0, 220.0), (cx, 258.0));
            c.paint(b, |x, y| on(collar(x, y), x, y), neck_colour);
            let knot = Ellipse::new(cx, 261.0, 5.5, 4.5);
            c.fill(knot.bounds(), |x, y| knot.sd(x, y), look.tie);
            let tie = |x: f32, y: f32| triangle(x, y, (cx - 4.5, 264.0), (cx + 4.5, 264.0), (cx, 320.0));
            c.fill(Bounds(cx - 8.0, 262.0, cx + 8.0, 300.0), tie, look.tie);
            let (bx, by) = (cx + 50.0, 278.0);
            let plate = |x: f32, y: f32| ((x - bx).abs() - 10.0).max((y - by).abs() - 6.0);
            c.fill(Bounds(bx - 12.0, by - 8.0, bx + 12.0, by + 8.0), plate, rgb(214, 178, 72));
            let line = |x: f32, y: f32| ((x - bx).abs() - 7.0).max((y - by).abs() - 1.0);
            c.fill(Bounds(bx - 9.0, by - 3.0, bx + 9.0, by + 3.0), line, rgb(150, 116, 40));
        }
        Category::Visitor => {
            // A round neck with a ribbed band.
            let band = Ellipse::new(cx, 236.0, n + 9.0, 16.0);
            let neckline = Ellipse::new(cx, 236.0, n + 3.0, 11.0);
            c.fill(band.bounds(), |x, y| on(band.sd(x, y), x, y), shade(look.clothes, 0.84));
            c.paint(neckline.bounds(), |x, y| on(neckline.sd(x, y), x, y), neck_colour);
        }
    }
}

/// The hair over the head.
fn hair(c: &mut Canvas, look: &Look, face: &dyn Fn(f32) -> Ellipse) {
    let (cx, cy, rx, ry) = look.head;
    let colour = look.hair_colour;
    let cap = |c: &mut Canvas, grow: f32, drop: f32, colour: Colour| {
        let outer = Ellipse::new(cx, cy - 2.0, rx + grow, ry + grow);
        let f = face(drop);
        c.fill(outer.bounds(), |x, y| outer.sd(x, y).max(-f.sd(x, y)).max(y - cy - 6.0), colour);
    };
    match look.hair {
        Hair::Shaved => cap(c, 0.5, 0.0, mix(look.skin, colour, 0.55)),
        // A lower face oval (a positive drop) would bring the hairline down; a raised one takes it back.
        Hair::Short(receding) => cap(c, 4.0, -f32::from(receding), colour),
        Hair::Afro(extra) => {
            let extra = f32::from(extra);
            let afro = Ellipse::new(cx, cy - 18.0 - extra * 0.5, rx + 10.0 + extra * 0.6, ry * 0.78 + extra * 0.5);
            let f = face(-2.0);
            c.paint(
                afro.bounds(),
                |x, y| afro.sd(x, y).max(-f.sd(x, y)).max(y - cy - 8.0),
                |x, y| {
                    // A little texture: lighter and darker blotches on a fixed grid.
                    let k = ((x * 0.45).floor() as i32 * 7 + (y * 0.45).floor() as i32 * 13).rem_euclid(5) as f32;
                    shade(colour, 0.94 + 0.03 * k)
                },
            );
        }
        Hair::Long => {
            cap(c, 4.0, 0.0, colour);
            for side in [-1.0, 1.0] {
                let lock = |x: f32, y: f32| {
                    capsule(x, y, (cx + side * (rx - 2.0), cy - 10.0), (cx + side * (rx + 6.0), cy + ry + 30.0), 8.0)
                };
                c.fill(Bounds(cx - rx - 16.0, cy - 20.0, cx + rx + 16.0, cy + ry + 40.0), lock, colour);
            }
        }
        Hair::Bun => {
            cap(c, 3.0, 0.0, colour);
            let bun = Ellipse::new(cx, cy - ry - 12.0, 22.0, 18.0);
            c.fill(bun.bounds(), |x, y| bun.sd(x, y), shade(colour, 1.1));
        }
        Hair::Wrap(i) => {
            let cloth = WRAPS[i % WRAPS.len()];
            let wrap = Ellipse::new(cx, cy - 30.0, rx + 14.0, ry * 0.78);
            let f = face(-6.0);
            c.paint(
                wrap.bounds(),
                |x, y| wrap.sd(x, y).max(-f.sd(x, y)).max(y - cy + 8.0),
                |x, y| {
                    // Diagonal folds.
                    let fold = ((x + y * 1.6) * 0.08).floor() as i32 % 2 == 0;
                    if fold { cloth } else { shade(cloth, 0.8) }
                },
            );
        }
    }
}

/// Brows, eyes, nose, mouth; moustache, beard and glasses for some.
fn features(c: &mut Canvas, look: &Look) {
    let (cx, cy, _, ry) = look.head;
    let (dx, ey) = (look.eye_dx, look.eye_y);
    let dark = shade(look.hair_colour, 0.9);
    if look.beard {
        // Along the jaw and round the chin, the cheeks and lips left clear.
        let (rx, beard) = (look.head.2, Ellipse::new(cx, cy, look.head.2 + 0.5, ry + 1.0));
        let cheeks = Ellipse::new(cx, cy - 4.0, rx - 9.0, ry - 11.0);
        let goatee = Ellipse::new(cx, ey + 49.0, look.mouth_w + 7.0, 13.0);
        let lips = Ellipse::new(cx, ey + 44.0, look.mouth_w + 3.0, 5.0);
        let sd = |x: f32, y: f32| {
            let around_mouth = (-cheeks.sd(x, y)).min(goatee.sd(x, y));
            beard.sd(x, y).max(ey + 8.0 - y).max(around_mouth).max(-lips.sd(x, y))
        };
        c.fill(beard.bounds(), sd, mix(look.skin, dark, 0.75));
    }
    for side in [-1.0, 1.0] {
        let x = cx + side * dx;
        let brow = |px: f32, py: f32| capsule(px, py, (x - side * 8.0, ey - 12.0), (x + side * 9.0, ey - 14.0), 2.2);
        c.fill(Bounds(x - 14.0, ey - 20.0, x + 14.0, ey - 8.0), brow, dark);
        let white = Ellipse::new(x, ey, 7.5, 4.2);
        c.fill(white.bounds(), |px, py| white.sd(px, py), rgb(242, 240, 234));
        let iris = Ellipse::new(x, ey + 0.3, 3.6, 3.6);
        c.fill(iris.bounds(), |px, py| iris.sd(px, py).max(white.sd(px, py)), rgb(40, 26, 20));
        if look.glasses {
            let rim = Ellipse::new(x, ey + 1.0, 14.0, 10.5);
            c.fill(rim.bounds(), |px, py| rim.sd(px, py).abs() - 1.2, rgb(34, 34, 38));
        }
    }
    if look.glasses {
        c.fill(
            Bounds(cx - 8.0, ey - 2.0, cx + 8.0, ey + 2.0),
            |x, y| capsule(x, y, (cx - 6.0, ey), (cx + 6.0, ey), 1.2),
            rgb(34, 34, 38),
        );
    }
    // The nose: a soft shadow and nostrils.
    let nose = Ellipse::new(cx, ey + 26.0, 9.0, 6.0);
    c.fill(nose.bounds(), |x, y| nose.sd(x, y), shade(look.skin, 0.86));
    for side in [-1.0, 1.0] {
        let nostril = Ellipse::new(cx + side * 4.5, ey + 28.0, 2.4, 1.6);
        c.fill(nostril.bounds(), |x, y| nostril.sd(x, y), shade(look.skin, 0.55));
    }
    let (mw, my) = (look.mouth_w, ey + 44.0);
    let lips = mix(shade(look.skin, 0.7), rgb(150, 60, 60), 0.25);
    if look.moustache {
        let m = |x: f32, y: f32| capsule(x, y, (cx - mw + 2.0, my - 7.5), (cx + mw - 2.0, my - 7.5), 2.6);
        c.fill(Bounds(cx - mw - 4.0, my - 10.0, cx + mw + 4.0, my - 2.0), m, dark);
    }
    if look.smile {
        let arc = Ellipse::new(cx, my - 8.0, mw, 9.0);
        c.fill(arc.bounds(), |x, y| (arc.sd(x, y).abs() - 1.8).max(my - 4.0 - y), lips);
    } else {
        c.fill(
            Bounds(cx - mw - 3.0, my - 3.0, cx + mw + 3.0, my + 3.0),
            |x, y| capsule(x, y, (cx - mw, my), (cx + mw, my), 2.2),
            lips,
        );
    }
}

/// The portrait of `person` in the prison of `seed`, as PNG bytes (a few kilobytes).
pub fn png(seed: u64, person: &PersonPlan) -> Result<Vec<u8>, PortraitError> {
    let image = render(&Look::draw(seed, person));
    let mut out = Cursor::new(Vec::new());
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Paeth)
        .write_image(image.as_raw(), WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .map_err(PortraitError::Encode)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::plan::Prison;
    use crate::people::MAX_PHOTO_BYTES;

    #[test]
    fn the_same_person_always_gets_the_same_bytes() {
        let p = Prison::plan(5, 40);
        for x in &p.people[..6] {
            assert_eq!(png(5, x).unwrap(), png(5, x).unwrap(), "{}", x.id);
        }
        // Under another seed, the same id is another face.
        assert_ne!(png(5, &p.people[0]).unwrap(), png(6, &p.people[0]).unwrap());
    }

    #[test]
    fn everyone_gets_a_small_png_of_their_own_dressed_for_their_category() {
        let p = Prison::plan(1, 60);
        let mut seen = std::collections::HashSet::new();
        for x in &p.people {
            let bytes = png(1, x).unwrap();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", x.id);
            assert!(bytes.len() < 32 * 1024 && bytes.len() < MAX_PHOTO_BYTES, "{}: {} bytes", x.id, bytes.len());
            let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap().to_rgb8();
            assert_eq!(image.dimensions(), (WIDTH, HEIGHT), "{}", x.id);
            assert!(seen.insert(image.as_raw().clone()), "{} looks like someone else", x.id);
            // The left shoulder: orange or yellow for inmates, dark blue for staff, grey or green for visitors.
            let [r, g, b] = image.get_pixel(30, 295).0.map(i32::from);
            let dressed = match x.category {
                Category::Inmate => r > 190 && g > 90 && b < 80,
                Category::Staff => b > r + 30 && r < 60 && g < 80,
                Category::Visitor => g > 90 && g >= r && g + 10 >= b && r < 180,
            };
            assert!(dressed, "{} ({:?}) wears {:?}", x.id, x.category, (r, g, b));
            // A plain light background in the corner.
            assert!(image.get_pixel(3, 3).0.iter().all(|&v| v > 200), "{}", x.id);
        }
    }
}
