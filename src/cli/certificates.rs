//! `cofre ca create|list|show` and `cofre cert list`, on the same services as the admin API.

use serde_json::{Value, json};

use super::{CaCommand, CertCommand, CliResult};
use crate::domain::certificates::{Authority, Certificate, CertificateFilter, CertificateStatus};
use crate::service::Core;
use crate::service::certificates::authorities::{self, AuthorityInput};
use crate::service::certificates::issued;

fn authority_json(a: &Authority) -> Value {
    json!({"id": a.id.to_string(), "name": a.name, "parent": a.parent_id.map(|p| p.to_string()),
           "key_type": a.key.as_stored(), "not_before": a.not_before, "not_after": a.not_after,
           "certificate": a.certificate_pem})
}

fn certificate_json(c: &Certificate, now: i64) -> Value {
    json!({"id": c.id.to_string(), "application_id": c.application_id.to_string(), "code": c.request_code,
           "common_name": c.common_name, "san": c.san, "serial": c.serial, "ca": c.authority,
           "origin_certificate": c.origin.as_str(), "status_certificate": (c.status(now) as i64).to_string(),
           "not_before": c.not_before, "not_after": c.not_after})
}

fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(86_400)
}

pub async fn authorities(core: &Core, cmd: CaCommand) -> CliResult {
    let now = core.now();
    match cmd {
        CaCommand::Create { name, key_type, validity_days, parent, json } => {
            let input = AuthorityInput { name, key_type: Some(key_type), validity_days: Some(validity_days), parent };
            let a = authorities::create(core, input).await?;
            super::run::print(json, &authority_json(&a), || {
                format!(
                    "certificate authority {} ({}) created: {}, valid {} days",
                    a.name,
                    a.id,
                    a.key.as_stored(),
                    days_left(a.not_after, now)
                )
            });
        }
        CaCommand::List { json } => {
            for a in authorities::list(core).await? {
                super::run::print(json, &authority_json(&a), || {
                    let parent = a.parent_id.map_or_else(|| "root".to_owned(), |p| format!("parent {p}"));
                    format!(
                        "{}\t{}\t{}\t{parent}\t{} days left",
                        a.id,
                        a.name,
                        a.key.as_stored(),
                        days_left(a.not_after, now)
                    )
                });
            }
        }
        CaCommand::Show { key } => {
            let a = core.store.authority(&key).await?.ok_or_else(|| format!("no certificate authority {key:?}"))?;
            print!("{}", authorities::chain_pem(core, &a).await?);
        }
    }
    Ok(())
}

pub async fn certificates(core: &Core, cmd: CertCommand) -> CliResult {
    let CertCommand::List { status, json } = cmd;
    let status = status
        .map(|s| CertificateStatus::parse(&s).ok_or("--status: 1 valid, 2 revoked, 3 renewal pending, 4 expired"))
        .transpose()?;
    let now = core.now();
    let filter = CertificateFilter { status, limit: i64::MAX, ..CertificateFilter::default() };
    for c in issued::list_all(core, &filter).await? {
        super::run::print(json, &certificate_json(&c, now), || {
            format!(
                "{}\t{}\t{}\tstatus {}\t{} days left\t{}",
                c.id,
                c.common_name,
                c.serial,
                c.status(now) as i64,
                days_left(c.not_after, now),
                c.authority.as_deref().unwrap_or("self-signed")
            )
        });
    }
    Ok(())
}
