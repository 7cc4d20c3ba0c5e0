//! The systemd unit's hardening, and its agreement with the configuration, sysusers.d and tmpfiles.d.

use std::collections::BTreeSet;

use super::*;
use tally::config::Config;

// ---------------------------------------------------------------------------------------------------------
// systemd unit, sysusers.d, tmpfiles.d
// ---------------------------------------------------------------------------------------------------------

/// A unit file's assignments in order: (section, key, value, line).
fn parse_unit(text: &str) -> Vec<(String, String, String, usize)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let mut line = raw.trim().to_owned();
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some((_, next)) if next.trim_start().starts_with(['#', ';']) => {}
                Some((_, next)) => line = format!("{line} {}", next.trim()),
                None => break,
            }
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("tally.service:{}: not Key=Value", n + 1));
        assert!(!section.is_empty(), "tally.service:{}: assignment before any [Section]", n + 1);
        out.push((section.clone(), key.trim().to_owned(), value.trim().to_owned(), n + 1));
    }
    out
}

/// Duration in seconds: `30`, `30s`, `2min`, `500ms`.
fn seconds(value: &str) -> Option<f64> {
    let split = value.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(value.len());
    let n: f64 = value[..split].parse().ok()?;
    let unit = match value[split..].trim() {
        "" | "s" | "sec" => 1.0,
        "ms" | "msec" => 0.001,
        "min" | "m" => 60.0,
        _ => return None,
    };
    Some(n * unit)
}

struct Unit(Vec<(String, String, String, usize)>);

impl Unit {
    fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(s, k, _, _)| s == "Service" && k == key).map(|(_, _, v, _)| v.as_str()).collect()
    }
    /// The value in force: the last assignment.
    fn last(&self, key: &str) -> Option<&str> {
        self.all(key).last().copied()
    }
    /// A list setting: words accumulate over assignments, an empty assignment resets.
    fn list(&self, key: &str) -> Vec<String> {
        let mut words = Vec::new();
        for v in self.all(key) {
            if v.is_empty() {
                words.clear();
            }
            words.extend(v.split_whitespace().map(str::to_owned));
        }
        words
    }
}

/// Boolean hardening settings that must be on.
const HARDENING_ON: &str = "NoNewPrivileges ProtectHome PrivateTmp ProtectKernelTunables ProtectKernelModules \
    ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname RestrictSUIDSGID RestrictRealtime \
    RestrictNamespaces LockPersonality MemoryDenyWriteExecute";

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("yes" | "true" | "on" | "1"))
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit = Unit(parse_unit(&read("provisioning/tally.service")));
    let mut offences = Vec::new();
    let mut want = |key: &str, ok: bool, expected: &str| {
        if !ok {
            offences.push(format!("{key}: expected {expected}, found {:?}", unit.all(key)));
        }
    };

    for (key, value) in [
        ("ExecStart", "/usr/bin/tally --config /etc/tally/tally.toml serve"),
        ("User", "tally"),
        ("Group", "tally"),
        ("StateDirectory", "tally"),
        ("StateDirectoryMode", "0700"),
        ("ConfigurationDirectory", "tally"),
        ("UMask", "0077"),
        ("Restart", "always"),
        ("Type", "notify"),
        ("ProtectSystem", "strict"),
        ("SystemCallArchitectures", "native"),
        ("DevicePolicy", "closed"),
    ] {
        want(key, unit.last(key) == Some(value), &format!("{key}={value}"));
    }
    for key in HARDENING_ON.split_whitespace() {
        want(key, is_true(unit.last(key)), &format!("{key}=yes"));
    }
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        want(key, unit.last(key) == Some(""), &format!("{key}= (empty: no capabilities at all)"));
    }
    // Settings that would quietly break the service: hidden devices, no reachable API, extra groups.
    for key in ["PrivateDevices", "PrivateNetwork", "DynamicUser"] {
        want(key, !is_true(unit.last(key)), "absent or no");
    }
    want("SupplementaryGroups", unit.list("SupplementaryGroups").is_empty(), "none (the udev rules use group tally)");

    let restart = unit.last("RestartSec").and_then(seconds);
    want("RestartSec", restart.is_some_and(|s| s > 0.0 && s <= 5.0), "a short delay (at most 5 s)");
    let watchdog = unit.last("WatchdogSec").and_then(seconds);
    want(
        "WatchdogSec",
        watchdog.is_some_and(|s| (10.0..=120.0).contains(&s)),
        "10 s to 2 min (tally pings every half)",
    );
    let kill = unit.last("KillSignal");
    want("KillSignal", kill.is_none() || kill == Some("SIGTERM"), "SIGTERM (tally records its shutdown on it)");
    let stop = unit.last("TimeoutStopSec").and_then(seconds);
    want("TimeoutStopSec", stop.is_some_and(|s| (10.0..=120.0).contains(&s)), "10 s to 2 min");

    let mut allowed_calls = BTreeSet::new();
    let mut denied_calls = BTreeSet::new();
    for v in unit.all("SystemCallFilter") {
        match v.strip_prefix('~') {
            Some(deny) => denied_calls.extend(deny.split_whitespace()),
            None => allowed_calls.extend(v.split_whitespace()),
        }
    }
    want(
        "SystemCallFilter",
        allowed_calls.contains("@system-service")
            && ["@privileged", "@resources"].iter().all(|g| denied_calls.contains(g) && !allowed_calls.contains(g)),
        "@system-service, then ~@privileged @resources",
    );

    let families: BTreeSet<String> = unit.list("RestrictAddressFamilies").into_iter().collect();
    let expected: BTreeSet<String> = ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"].map(String::from).into();
    want("RestrictAddressFamilies", families == expected, "exactly AF_UNIX AF_INET AF_INET6 AF_NETLINK");

    want("IPAddressDeny", unit.list("IPAddressDeny").iter().any(|a| a == "any"), "any (then allow what the API needs)");
    let ip_allow = unit.list("IPAddressAllow");
    want("IPAddressAllow", ip_allow.iter().any(|a| a == "localhost"), "localhost at least");

    let devices: Vec<String> =
        unit.all("DeviceAllow").iter().map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    for needed in ["char-usb_device rw", "char-ttyUSB rw", "char-ttyACM rw"] {
        want("DeviceAllow", devices.iter().any(|d| d == needed), needed);
    }
    for d in &devices {
        let (spec, perms) = d.split_once(' ').unwrap_or((d, ""));
        want(
            "DeviceAllow",
            spec.starts_with("char-") && perms.chars().all(|p| "rw".contains(p)),
            "char devices, rw at most",
        );
    }
    let install: Vec<_> = unit.0.iter().filter(|(s, k, _, _)| s == "Install" && k == "WantedBy").collect();
    want(
        "WantedBy",
        install.iter().any(|(_, _, v, _)| v == "multi-user.target"),
        "[Install] WantedBy=multi-user.target",
    );
    fail_if_any("provisioning/tally.service is missing hardening or has it wrong", &offences);

    // The only network the unit allows is loopback, so the example configuration must listen there.
    let loopback_only = ip_allow.iter().all(|a| matches!(a.as_str(), "localhost" | "127.0.0.0/8" | "::1/128"));
    let config = Config::load(Some(&root().join("provisioning/tally.toml"))).expect("provisioning/tally.toml loads");
    if loopback_only {
        assert!(
            config.listen.ip().is_loopback(),
            "the unit allows only loopback but the API listens on {}",
            config.listen
        );
    }
}

/// Splits a sysusers.d / tmpfiles.d line into fields; a field may be "double quoted".
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            out.push(quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn config_lines(rel: &str) -> Vec<Vec<String>> {
    read(rel).lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).map(fields).collect()
}

#[test]
fn unit_configuration_sysusers_and_tmpfiles_agree_on_user_and_directories() {
    let unit = Unit(parse_unit(&read("provisioning/tally.service")));
    let user = unit.last("User").expect("User=");
    let group = unit.last("Group").expect("Group=");
    let state = Path::new("/var/lib").join(unit.last("StateDirectory").expect("StateDirectory="));
    let mode = unit.last("StateDirectoryMode").expect("StateDirectoryMode=");

    let exec: Vec<&str> = unit.last("ExecStart").expect("ExecStart=").split_whitespace().collect();
    let config_arg = exec.iter().position(|a| *a == "--config").and_then(|k| exec.get(k + 1)).expect("--config FILE");
    let config_dir = Path::new("/etc").join(unit.last("ConfigurationDirectory").expect("ConfigurationDirectory="));
    assert_eq!(Path::new(config_arg).parent(), Some(config_dir.as_path()), "--config is not in ConfigurationDirectory");

    let config = Config::load(Some(&root().join("provisioning/tally.toml"))).expect("provisioning/tally.toml loads");
    assert_eq!(config.data_dir, state, "data_dir in provisioning/tally.toml and StateDirectory= differ");

    let users = config_lines("provisioning/sysusers.d/tally.conf");
    let u = users.iter().find(|f| f.first().is_some_and(|t| t == "u") && f.get(1).is_some_and(|n| n == user));
    let u = u.unwrap_or_else(|| panic!("sysusers.d/tally.conf creates no user {user:?}"));
    assert_eq!(user, group, "sysusers `u` creates a group named like the user; Group= must be that group");
    assert_eq!(u.get(4).map(PathBuf::from), Some(state.clone()), "the user's home is not the data directory");
    assert!(u.get(5).is_some_and(|s| s.ends_with("nologin")), "the tally user must have no login shell: {u:?}");

    let dirs = config_lines("provisioning/tmpfiles.d/tally.conf");
    let d =
        dirs.iter().find(|f| f.first().is_some_and(|t| t == "d") && f.get(1).map(PathBuf::from) == Some(state.clone()));
    let d = d.unwrap_or_else(|| panic!("tmpfiles.d/tally.conf does not create {}", state.display()));
    assert_eq!(d[2..5], [mode, user, group], "tmpfiles.d mode/owner differ from the unit's");
}

#[test]
fn the_unit_parser_reads_lists_continuations_and_resets() {
    let unit = Unit(parse_unit(
        "[Service]\n# comment\nDeviceAllow=a r\nDeviceAllow=\nDeviceAllow=b \\\n  rw\nCapabilityBoundingSet=\n",
    ));
    assert_eq!(unit.list("DeviceAllow"), ["b", "rw"]);
    assert_eq!(unit.last("CapabilityBoundingSet"), Some(""));
    assert_eq!(
        (seconds("2s"), seconds("500ms"), seconds("1min"), seconds("x")),
        (Some(2.0), Some(0.5), Some(60.0), None)
    );
}
