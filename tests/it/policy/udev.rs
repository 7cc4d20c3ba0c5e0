//! The udev rules: group tally gets the readers and serial adapters, nobody else does.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// udev rules
// ---------------------------------------------------------------------------------------------------------

/// One `KEY{attr}OP"value"` of a udev rule.
#[derive(Debug, PartialEq, Eq)]
struct Pair {
    key: String,
    attr: Option<String>,
    op: String,
    value: String,
}

impl Pair {
    fn is_match(&self) -> bool {
        self.op == "==" || self.op == "!="
    }
    fn is(&self, key: &str, attr: Option<&str>, op: &str, value: &str) -> bool {
        self.key == key && self.attr.as_deref() == attr && self.op == op && self.value == value
    }
}

/// udev keys by the operators they take (udev(7)).
const MATCH_ONLY: &str =
    "ACTION DEVPATH KERNEL KERNELS SUBSYSTEM SUBSYSTEMS DRIVER DRIVERS ATTRS TAGS TEST PROGRAM RESULT CONST";
const ASSIGN_ONLY: &str = "OWNER GROUP MODE RUN IMPORT OPTIONS LABEL GOTO SECLABEL";
const EITHER: &str = "NAME SYMLINK ATTR SYSCTL ENV TAG";
const NEEDS_ATTR: &str = "ATTR ATTRS SYSCTL ENV IMPORT CONST SECLABEL";

fn listed(list: &str, key: &str) -> bool {
    list.split_whitespace().any(|k| k == key)
}

/// Parses one (joined) rule line; an error says what is wrong.
fn parse_rule(line: &str) -> Result<Vec<Pair>, String> {
    let mut pairs = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| !(c.is_ascii_uppercase() || c == '_')).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let mut attr = None;
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').ok_or_else(|| format!("{key}: unclosed {{"))?;
            attr = Some(inner[..end].to_owned());
            rest = &inner[end + 1..];
        }
        rest = rest.trim_start();
        let op = ["==", "!=", "+=", "-=", ":=", "="].into_iter().find(|op| rest.starts_with(op));
        let op = op.ok_or_else(|| format!("{key}: no operator"))?;
        rest = rest[op.len()..].trim_start();
        let quoted = rest.strip_prefix('"').ok_or_else(|| format!("{key}: value is not in double quotes"))?;
        let end = quoted.find('"').ok_or_else(|| format!("{key}: unclosed quote"))?;
        let value = quoted[..end].to_owned();
        rest = quoted[end + 1..].trim_start();
        let is_match = op == "==" || op == "!=";
        if key.is_empty() || !(listed(MATCH_ONLY, key) || listed(ASSIGN_ONLY, key) || listed(EITHER, key)) {
            return Err(format!("unknown key {key:?}"));
        }
        if (is_match && listed(ASSIGN_ONLY, key)) || (!is_match && listed(MATCH_ONLY, key)) {
            return Err(format!("{key} cannot take {op}"));
        }
        if listed(NEEDS_ATTR, key) && attr.is_none() {
            return Err(format!("{key} needs {{…}}"));
        }
        pairs.push(Pair { key: key.to_owned(), attr, op: op.to_owned(), value });
        match rest.strip_prefix(',') {
            Some(r) if !r.trim().is_empty() => rest = r.trim_start(),
            Some(_) => return Err("trailing comma".into()),
            None if rest.is_empty() => {}
            None => return Err(format!("expected a comma before {rest:?}")),
        }
    }
    Ok(pairs)
}

/// The rules of a file: (line where the rule starts, its pairs); lines continued with `\` are joined.
fn parse_rules(text: &str) -> Result<Vec<(usize, Vec<Pair>)>, String> {
    let mut rules = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let mut line = raw.trim_end().to_owned();
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some((_, next)) => line.push_str(next.trim_end()),
                None => return Err(format!("line {}: continued past the end of the file", n + 1)),
            }
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        rules.push((n + 1, parse_rule(&line).map_err(|e| format!("line {}: {e}", n + 1))?));
    }
    Ok(rules)
}

/// USB vendor:product ids the reader drivers support, from the drivers themselves.
fn readers() -> String {
    let ids: Vec<String> =
        tally_uru4000::MODELS.iter().map(|m| format!("{:04x}:{:04x}", m.vendor, m.product)).collect();
    ids.join(" ")
}

/// The USB serial adapters used for RS-485 and serial fingerprint modules.
const SERIAL_ADAPTERS: &str = "0403:6001 0403:6014 0403:6015 10c4:ea60 1a86:7523 0557:2008 067b:2303";

#[test]
fn the_udev_rules_give_group_tally_the_devices_and_nothing_to_others() {
    const FILE: &str = "udev/70-tally.rules";
    let rules = parse_rules(&read(FILE)).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    assert!(!rules.is_empty(), "{FILE} holds no rules");
    let mut offences = Vec::new();
    let mut usb_ids = Vec::new();
    let mut tty_ids = Vec::new();
    for (line, pairs) in &rules {
        let mut bad = |why: &str| offences.push(format!("{FILE}:{line}: {why}"));
        let has =
            |key: &str, attr: Option<&str>, op: &str, value: &str| pairs.iter().any(|p| p.is(key, attr, op, value));
        if !pairs.iter().any(Pair::is_match) || pairs.iter().all(Pair::is_match) {
            bad("a rule needs at least one match and one assignment");
        }
        if !has("GROUP", None, "=", "tally") || pairs.iter().any(|p| p.key == "GROUP" && p.value != "tally") {
            bad("must set GROUP=\"tally\" and no other group");
        }
        if !has("MODE", None, "=", "0660") {
            bad("must set MODE=\"0660\"");
        }
        for p in pairs.iter().filter(|p| p.key == "MODE") {
            match u32::from_str_radix(&p.value, 8) {
                Ok(m) if p.value.len() >= 3 && m & 0o007 == 0 => {}
                _ => bad(&format!("MODE=\"{}\" grants access to others or is not an octal mode", p.value)),
            }
        }
        if pairs.iter().any(|p| p.key == "TAG" && p.value == "uaccess") {
            bad("uaccess would hand the device to whoever is logged in at the console");
        }
        if !has("TAG", None, "+=", "tally") || !has("ENV", Some("ID_TALLY"), "=", "1") {
            bad("must mark the device for the service: TAG+=\"tally\" and ENV{ID_TALLY}=\"1\"");
        }
        let import = pairs.iter().position(|p| p.is("IMPORT", Some("builtin"), "=", "path_id"));
        let link = pairs.iter().position(|p| p.key == "SYMLINK" && p.op == "+=");
        match (import, link.map(|k| &pairs[k])) {
            (Some(i), Some(l))
                if i < link.unwrap_or(0) && l.value.starts_with("tally/") && l.value.ends_with("$env{ID_PATH_TAG}") => {
            }
            _ => bad("needs IMPORT{builtin}=\"path_id\" and then SYMLINK+=\"tally/<kind>-$env{ID_PATH_TAG}\""),
        }
        let value = |key: &str, attr: &str| {
            pairs
                .iter()
                .find(|p| p.key == key && p.attr.as_deref() == Some(attr) && p.op == "==")
                .map(|p| p.value.clone())
        };
        if has("SUBSYSTEM", None, "==", "usb") {
            if !has("ATTR", Some("power/control"), "=", "on") {
                bad("a reader rule must keep autosuspend off: ATTR{power/control}=\"on\"");
            }
            if !has("ENV", Some("DEVTYPE"), "==", "usb_device") {
                bad("a USB rule must match ENV{DEVTYPE}==\"usb_device\" (the device node, not its interfaces)");
            }
            match (value("ATTR", "idVendor"), value("ATTR", "idProduct")) {
                (Some(v), Some(p)) => usb_ids.push((format!("{v}:{p}"), *line)),
                _ => bad("a USB rule must match ATTR{idVendor} and ATTR{idProduct}"),
            }
        } else if has("SUBSYSTEM", None, "==", "tty") {
            match (value("ATTRS", "idVendor"), value("ATTRS", "idProduct")) {
                (Some(v), Some(p)) => tty_ids.push((format!("{v}:{p}"), *line)),
                _ => bad("a serial rule must match ATTRS{idVendor} and ATTRS{idProduct}"),
            }
        } else {
            bad("matches neither SUBSYSTEM==\"usb\" nor SUBSYSTEM==\"tty\"");
        }
    }
    let readers = readers();
    for (kind, found, expected) in
        [("reader (usb)", &usb_ids, readers.as_str()), ("serial adapter (tty)", &tty_ids, SERIAL_ADAPTERS)]
    {
        for id in expected.split_whitespace() {
            if !found.iter().any(|(f, _)| f == id) {
                offences.push(format!("{FILE}: no {kind} rule for {id}"));
            }
        }
        for (k, (id, line)) in found.iter().enumerate() {
            if !expected.split_whitespace().any(|e| e == id) {
                offences.push(format!(
                    "{FILE}:{line}: {id} is not a supported {kind}: no rule for devices tally does not drive"
                ));
            }
            if found[..k].iter().any(|(f, _)| f == id) {
                offences.push(format!("{FILE}:{line}: {id} has a rule already"));
            }
            let lower_hex = |h: &str| h.len() == 4 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            if !id.split_once(':').is_some_and(|(v, p)| lower_hex(v) && lower_hex(p)) {
                offences.push(format!("{FILE}:{line}: ids must be four lower-case hex digits, as sysfs shows them"));
            }
        }
    }
    fail_if_any("udev rules", &offences);
}

#[test]
fn the_udev_parser_refuses_what_udev_refuses() {
    let ok = parse_rules("# c\nSUBSYSTEM==\"tty\", \\\n  ATTRS{idVendor}==\"0403\", GROUP=\"tally\"\n").unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].0, 2);
    assert_eq!(
        ok[0].1[1],
        Pair { key: "ATTRS".into(), attr: Some("idVendor".into()), op: "==".into(), value: "0403".into() }
    );
    for bad in [
        "SUBSYSTEM==\"tty\", GROUP==\"tally\"",
        "SUBSYSTEM=\"tty\", GROUP=\"tally\"",
        "SUBSYSTEM==\"tty\" GROUP=\"tally\"",
        "SUBSYSTEM==tty, GROUP=\"tally\"",
        "ATTRS==\"x\", GROUP=\"tally\"",
        "SUBSYSTEM==\"tty\", GROUP=\"tally\",",
        "SUBSYSTEMZ==\"tty\", GROUP=\"tally\"",
    ] {
        assert!(parse_rules(bad).is_err(), "accepted {bad:?}");
    }
}
