//! Dashboards (§13.1): the filters they take, the contract's protocol names, and the risk rules
//! that score credential reveals ("queries") and remote sessions ("access").

/// The filters every dashboard query shares; times are unix seconds, `until` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Device hostname and credential username: given together or not at all.
    pub device: Option<(String, String)>,
    pub username: Option<String>,
    /// Stored session protocol names to keep (`None`: all).
    pub protocols: Option<Vec<&'static str>>,
}

/// A contract protocol name (`{p}` of the sessions dashboard, `protocol` of the risk one): its
/// label in the counts (the Portuguese documentation's under `coge`, the English one's under
/// `dash`) and the cofre session protocols it covers. A protocol cofre does not open yet exists
/// and counts 0.
pub struct ProtocolName {
    pub name: &'static str,
    pub label: &'static str,
    pub label_en: &'static str,
    pub stored: &'static [&'static str],
}

pub const PROTOCOLS: &[ProtocolName] = &[
    ProtocolName { name: "ssh", label: "SSH/Telnet", label_en: "SSH/Telnet", stored: &["SSH", "TELNET"] },
    ProtocolName { name: "telnet", label: "SSH/Telnet", label_en: "SSH/Telnet", stored: &["TELNET"] },
    ProtocolName { name: "rdp", label: "RDP", label_en: "RDP", stored: &["RDP"] },
    ProtocolName { name: "rdpweb", label: "RDP_Web", label_en: "RDP_Web", stored: &["RDPWEB"] },
    ProtocolName { name: "sshweb", label: "SSH_Web", label_en: "SSH_Web", stored: &["SSHWEB"] },
    ProtocolName { name: "vnchttp", label: "VNC_HTTP", label_en: "HTTP_VNC", stored: &["VNCHTTP"] },
    ProtocolName { name: "rdpgate", label: "RDPGate", label_en: "RDP_Gate", stored: &["RDPGATE"] },
    ProtocolName { name: "jumpserver", label: "JumpServer", label_en: "Jump_Server", stored: &["JUMPSERVER"] },
    ProtocolName { name: "sql", label: "SQL", label_en: "SQL", stored: &["SQL"] },
    ProtocolName { name: "http", label: "HTTP", label_en: "HTTP", stored: &["HTTP"] },
    ProtocolName { name: "https", label: "HTTPS", label_en: "HTTPS", stored: &["HTTPS"] },
];

pub fn protocol(name: &str) -> Option<&'static ProtocolName> {
    PROTOCOLS.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// Mon–Fri, `start` to `end` hours UTC: anything else is outside working hours.
#[derive(Clone, Copy, Debug)]
pub struct WorkingHours {
    pub start: i64,
    pub end: i64,
}

impl Default for WorkingHours {
    fn default() -> Self {
        Self { start: 8, end: 18 }
    }
}

impl WorkingHours {
    /// `HH-HH` (`08-18`), the start before the end, within a day.
    pub fn parse(text: &str) -> Option<Self> {
        let (start, end) = text.trim().split_once('-')?;
        let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
        (0 <= start && start < end && end <= 24).then_some(Self { start, end })
    }

    pub fn contains(self, at: i64) -> bool {
        // 1970-01-01 was a Thursday: day 0 + 4 is weekday 4 with Sunday as 0.
        let weekday = (at.div_euclid(86_400) + 4).rem_euclid(7);
        let hour = at.rem_euclid(86_400) / 3600;
        (1..=5).contains(&weekday) && (self.start..self.end).contains(&hour)
    }
}

/// A session longer than this is unusually long.
pub const LONG_SESSION_SECS: i64 = 4 * 3600;
/// More reveals than this by one application within an hour is a burst.
pub const BURST_REVEALS: i64 = 5;

/// What is known about a session when it is scored.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessFacts {
    pub started_at: i64,
    pub duration: i64,
    /// No earlier session of the same user came from this origin IP.
    pub first_from_ip: bool,
    pub dropped: bool,
}

/// What is known about a credential reveal when it is scored.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryFacts {
    pub at: i64,
    /// No earlier reveal by the same application came from this client IP.
    pub first_from_ip: bool,
    /// Reveals by the same application in the hour up to this one, this one included.
    pub in_last_hour: i64,
}

/// A score from 0 to 100 and the rules that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    pub score: u8,
    pub reasons: Vec<&'static str>,
}

fn score(rules: &[(bool, u8, &'static str)]) -> Risk {
    let fired: Vec<_> = rules.iter().filter(|r| r.0).collect();
    Risk { score: fired.iter().map(|r| r.1).sum::<u8>().min(100), reasons: fired.iter().map(|r| r.2).collect() }
}

/// Sessions: outside working hours +30, longer than 4 h +30, first origin IP +20, dropped +20.
pub fn access_risk(f: &AccessFacts, hours: WorkingHours) -> Risk {
    score(&[
        (!hours.contains(f.started_at), 30, "outside working hours"),
        (f.duration > LONG_SESSION_SECS, 30, "unusually long"),
        (f.first_from_ip, 20, "first use of origin IP"),
        (f.dropped, 20, "dropped"),
    ])
}

/// Queries: outside working hours +40, first origin IP +30, more than 5 in an hour +30.
pub fn query_risk(f: &QueryFacts, hours: WorkingHours) -> Risk {
    score(&[
        (!hours.contains(f.at), 40, "outside working hours"),
        (f.first_from_ip, 30, "first use of origin IP"),
        (f.in_last_hour > BURST_REVEALS, 30, "many reveals in an hour"),
    ])
}

/// A credential reveal to record.
#[derive(Clone, Debug)]
pub struct NewReveal<'a> {
    pub at: i64,
    pub application_id: i64,
    pub authorization_id: i64,
    pub credential_id: i64,
    pub credential_label: &'a str,
    pub hostname: &'a str,
    pub client_ip: String,
}

/// A reveal as the risk dashboard reads it.
#[derive(Clone, Debug)]
pub struct QueryEvent {
    pub id: i64,
    pub application_id: i64,
    pub application_name: String,
    pub credential_id: i64,
    pub credential_label: String,
    pub hostname: String,
    pub facts: QueryFacts,
}

/// A session as the risk dashboard reads it.
#[derive(Clone, Debug)]
pub struct AccessEvent {
    pub id: i64,
    pub host: String,
    pub port: i64,
    pub protocol: String,
    pub credential_label: String,
    pub user_id: i64,
    pub username: String,
    pub ended_at: Option<i64>,
    pub facts: AccessFacts,
}

/// Session counts of one stored protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolCount {
    pub protocol: String,
    pub total: i64,
    pub active: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01 was a Monday.
    const MONDAY: i64 = 1_704_067_200;

    #[test]
    fn working_hours_are_weekdays_eight_to_eighteen_utc() {
        let h = WorkingHours::default();
        assert!(h.contains(MONDAY + 8 * 3600));
        assert!(h.contains(MONDAY + 4 * 86_400 + 17 * 3600 + 3599));
        assert!(!h.contains(MONDAY + 7 * 3600 + 3599));
        assert!(!h.contains(MONDAY + 18 * 3600));
        assert!(!h.contains(MONDAY + 5 * 86_400 + 10 * 3600), "Saturday");
        assert!(!h.contains(MONDAY - 86_400 + 10 * 3600), "Sunday");
    }

    #[test]
    fn working_hours_parse_from_config() {
        assert_eq!(WorkingHours::parse("09-17").map(|h| (h.start, h.end)), Some((9, 17)));
        assert_eq!(WorkingHours::parse("00-24").map(|h| (h.start, h.end)), Some((0, 24)));
        for bad in ["18-08", "8", "08-25", "a-b", "-1-5"] {
            assert!(WorkingHours::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn each_access_rule_adds_its_weight() {
        let h = WorkingHours::default();
        let calm = AccessFacts { started_at: MONDAY + 10 * 3600, duration: 60, ..Default::default() };
        assert_eq!(access_risk(&calm, h), Risk { score: 0, reasons: vec![] });
        let night = AccessFacts { started_at: MONDAY + 2 * 3600, ..calm };
        assert_eq!(access_risk(&night, h).score, 30);
        assert_eq!(access_risk(&AccessFacts { duration: LONG_SESSION_SECS + 1, ..calm }, h).score, 30);
        assert_eq!(access_risk(&AccessFacts { duration: LONG_SESSION_SECS, ..calm }, h).score, 0);
        assert_eq!(access_risk(&AccessFacts { first_from_ip: true, ..calm }, h).score, 20);
        assert_eq!(access_risk(&AccessFacts { dropped: true, ..calm }, h).score, 20);
        let all = AccessFacts { duration: LONG_SESSION_SECS + 1, first_from_ip: true, dropped: true, ..night };
        let risk = access_risk(&all, h);
        assert_eq!(risk.score, 100);
        assert_eq!(risk.reasons, ["outside working hours", "unusually long", "first use of origin IP", "dropped"]);
    }

    #[test]
    fn each_query_rule_adds_its_weight() {
        let h = WorkingHours::default();
        let calm = QueryFacts { at: MONDAY + 10 * 3600, first_from_ip: false, in_last_hour: 1 };
        assert_eq!(query_risk(&calm, h).score, 0);
        assert_eq!(query_risk(&QueryFacts { at: MONDAY + 20 * 3600, ..calm }, h).score, 40);
        assert_eq!(query_risk(&QueryFacts { first_from_ip: true, ..calm }, h).score, 30);
        assert_eq!(query_risk(&QueryFacts { in_last_hour: BURST_REVEALS, ..calm }, h).score, 0);
        assert_eq!(query_risk(&QueryFacts { in_last_hour: BURST_REVEALS + 1, ..calm }, h).score, 30);
        let all = QueryFacts { at: MONDAY + 3 * 3600, first_from_ip: true, in_last_hour: 9 };
        assert_eq!(query_risk(&all, h).score, 100);
    }

    #[test]
    fn the_resource_is_named_dashboards() {
        use crate::domain::authorization::Resource;
        assert_eq!("dashboards".parse::<Resource>(), Ok(Resource::Dashboards));
        assert_eq!(Resource::Dashboards.as_str(), "dashboards");
    }

    #[test]
    fn contract_protocols_map_to_labels() {
        assert_eq!(protocol("SSH").map(|p| p.label), Some("SSH/Telnet"));
        assert_eq!(protocol("jumpserver").map(|p| (p.label, p.label_en)), Some(("JumpServer", "Jump_Server")));
        assert!(protocol("gopher").is_none());
        assert_eq!(protocol("https").map(|p| p.stored), Some(&["HTTPS"][..]));
    }
}
