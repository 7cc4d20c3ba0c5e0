//! Where the secure channel's challenge (RND.A) comes from: a narrow [`Random`] trait, and its
//! implementation on the system's cryptographic RNG (`ring::rand::SystemRandom`).
//!
//! Tests give the ACU a predictable source instead; the service always uses [`SystemRng`]. This
//! module does not own keys or the handshake (`secure`, `acu`).

/// The RNG failed to produce bytes (ring's `Unspecified` carries no detail to keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomError;

/// A source of random bytes.
pub trait Random: Send {
    /// Fills `bytes` with random bytes.
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), RandomError>;
}

/// The system's cryptographic RNG.
#[derive(Debug)]
pub struct SystemRng(ring::rand::SystemRandom);

impl SystemRng {
    /// The system RNG.
    pub fn new() -> SystemRng {
        SystemRng(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRng {
    fn default() -> SystemRng {
        SystemRng::new()
    }
}

impl Random for SystemRng {
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), RandomError> {
        ring::rand::SecureRandom::fill(&self.0, bytes).map_err(|ring::error::Unspecified| RandomError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_rng_gives_different_challenges() {
        let mut rng = SystemRng::new();
        let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
        rng.fill(&mut a).unwrap();
        rng.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
