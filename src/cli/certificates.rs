//! `cofre ca create|list|show` and `cofre cert list|show|import|request|sign|revoke|export|scan`,
//! on the same services as the API: per-application commands act as an authorization, whose
//! rules apply as they do over HTTP. Secrets are read from stdin, never from the command line.

use std::net::IpAddr;

use base64::Engine;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::CliResult;
use super::run::created_ids;
use crate::domain::authorization::{Caller, Scheme};
use crate::domain::certificates::requests::RawRequest;
use crate::domain::certificates::{Authority, Certificate, CertificateFilter, CertificateStatus};
use crate::service::Core;
use crate::service::certificates::authorities::{self, AuthorityImport, AuthorityInput};
use crate::service::certificates::discovery::{self, ScanInput};
use crate::service::certificates::imports::{self, ImportInput};
use crate::service::certificates::issued;
use crate::service::certificates::requests::{self, RequestInput};
use crate::service::certificates::signing::{self, SignInput};

mod commands;

pub use commands::{ActingAs, CaCommand, CertCommand};
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
            created_ids(&[("authority_id", a.id)]);
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
        CaCommand::Import { name, certificate, key, parent, password_stdin, json } => {
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path).map(Zeroizing::new).map_err(|e| format!("{}: {e}", path.display()))
            };
            let input = AuthorityImport {
                name,
                certificate: read(&certificate)?,
                private_key: read(&key)?,
                password: stdin_if(password_stdin)?,
                parent,
            };
            let a = authorities::import(core, input).await?;
            created_ids(&[("authority_id", a.id)]);
            super::run::print(json, &authority_json(&a), || {
                format!("certificate authority {} ({}) imported: {}", a.name, a.id, a.key.as_stored())
            });
        }
        CaCommand::Show { key } => {
            let a = core.store.authority(&key).await?.ok_or_else(|| format!("no certificate authority {key:?}"))?;
            print!("{}", authorities::chain_pem(core, &a).await?);
        }
    }
    Ok(())
}

pub async fn certificates(core: &Core, cmd: CertCommand) -> CliResult {
    let now = core.now();
    match cmd {
        CertCommand::List { status, json } => {
            let status = status
                .map(|s| {
                    CertificateStatus::parse(&s).ok_or("--status: 1 valid, 2 revoked, 3 renewal pending, 4 expired")
                })
                .transpose()?;
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
        }
        CertCommand::Show { id, json } => {
            let filter = CertificateFilter { id: Some(id), limit: 1, ..CertificateFilter::default() };
            let c = issued::list_all(core, &filter).await?.pop().ok_or_else(|| format!("no certificate {id}"))?;
            if json {
                println!("{}", certificate_json(&c, now));
            } else {
                print!("{}{}", c.certificate_pem, c.chain_pem);
            }
        }
        CertCommand::Import { who, file, format, key, password_stdin } => {
            let caller = acting_as(core, who.authorization).await?;
            let bytes = Zeroizing::new(std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?);
            let certificate = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => Zeroizing::new(text.to_owned()),
                _ => Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes.as_slice())),
            };
            let private_key = match key {
                Some(path) => Some(Zeroizing::new(
                    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
                )),
                None => None,
            };
            let input = ImportInput {
                certificate: Some(certificate),
                format,
                password: stdin_if(password_stdin)?,
                private_key,
                key_password: None,
                password_revogation: None,
            };
            let c = imports::import(core, &caller, input).await?;
            created_ids(&[("certificate_id", c.id)]);
            print_certificate(who.json, &c, now, "imported");
        }
        CertCommand::Request {
            who,
            code,
            common_name,
            organization,
            san,
            encryption,
            key_size,
            algorithm,
            validity,
            domain_type,
            certificate_type,
            key_password_stdin,
        } => {
            let caller = acting_as(core, who.authorization).await?;
            let raw = RawRequest {
                certificate_type: Some(certificate_type),
                domain_type: Some(domain_type),
                organization: Some(organization),
                common_name: Some(common_name),
                san,
                encryption: Some(encryption),
                encryption_key_size: Some(key_size),
                certificate_algorithm: Some(algorithm),
                validity: Some(validity),
                ..RawRequest::default()
            };
            let input =
                RequestInput { code, raw, key_password: stdin_if(key_password_stdin)?, password_revogation: None };
            let (r, created) = requests::submit(core, &caller, input).await?;
            created_ids(&[("request_id", r.id)]);
            let value = json!({"id": r.id.to_string(), "code": r.code, "created": created, "csr": r.csr_pem});
            super::run::print(who.json, &value, || {
                format!("request {} {}\n{}", r.code, if created { "registered" } else { "updated" }, r.csr_pem)
            });
        }
        CertCommand::Sign { who, code, ca, self_signed, reason, justification, auto_renew, renewal_days } => {
            let caller = acting_as(core, who.authorization).await?;
            let input = SignInput {
                code,
                auto_renew: Some(auto_renew),
                renewal_days,
                self_signed: Some(self_signed),
                ca,
                reason: Some(reason),
                justification,
                itsm_code: None,
            };
            let c = signing::sign(core, &caller, input).await?;
            created_ids(&[("certificate_id", c.id)]);
            print_certificate(who.json, &c, now, "signed");
        }
        CertCommand::Revoke { who, id, reason, password_stdin } => {
            let caller = acting_as(core, who.authorization).await?;
            let c = issued::revoke(core, &caller, id, stdin_if(password_stdin)?, reason).await?;
            print_certificate(who.json, &c, now, "revoked");
        }
        CertCommand::Export { who, id } => {
            let caller = acting_as(core, who.authorization).await?;
            let export = issued::export(core, &caller, id, stdin_if(true)?).await?;
            let c = &export.certificate;
            if who.json {
                let mut value = certificate_json(c, now);
                value["private_key"] = Value::String(export.encrypted_key.to_string());
                println!("{value}");
            } else {
                print!("{}{}{}", c.certificate_pem, c.chain_pem, export.encrypted_key.as_str());
            }
        }
        CertCommand::Scan { who, targets, timeout } => {
            let caller = acting_as(core, who.authorization).await?;
            let findings = discovery::scan(core, &caller, ScanInput { targets, timeout_seconds: timeout }).await?;
            for f in findings {
                let value = match &f.outcome {
                    Ok((c, new)) => {
                        json!({"target": f.target, "found": true, "new": new, "certificate": certificate_json(c, now)})
                    }
                    Err(why) => json!({"target": f.target, "found": false, "error": why}),
                };
                super::run::print(who.json, &value, || match &f.outcome {
                    Ok((c, new)) => format!(
                        "{}\t{}\t{}\t{}\t{} days left",
                        f.target,
                        if *new { "new" } else { "known" },
                        c.id,
                        c.common_name,
                        days_left(c.not_after, now)
                    ),
                    Err(why) => format!("{}\tnot found\t{why}", f.target),
                });
            }
        }
    }
    Ok(())
}

fn print_certificate(json_out: bool, c: &Certificate, now: i64, what: &str) {
    super::run::print(json_out, &certificate_json(c, now), || {
        format!(
            "certificate {} {what}: {} serial {}, {} days left",
            c.id,
            c.common_name,
            c.serial,
            days_left(c.not_after, now)
        )
    });
}

/// A secret read from stdin when asked for, never from the command line.
fn stdin_if(asked: bool) -> Result<Option<Zeroizing<String>>, std::io::Error> {
    if !asked {
        return Ok(None);
    }
    let mut text = Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
    Ok(Some(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())))
}

/// The authorization the operator acts as: its resources and read-only flag apply as over HTTP.
async fn acting_as(core: &Core, id: i64) -> Result<Caller, String> {
    let authorization = core.store.authorization(id).await.map_err(|_| format!("no authorization {id}"))?;
    if !authorization.enabled || !authorization.application_enabled {
        return Err(format!("authorization {id} is disabled"));
    }
    Ok(Caller {
        authorization,
        acting_user_id: None,
        client_ip: IpAddr::from([127, 0, 0, 1]),
        scheme: Scheme::ApiToken,
    })
}
