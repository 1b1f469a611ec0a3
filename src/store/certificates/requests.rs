//! Certificate requests: one row per (application, code), created or replaced by one atomic
//! upsert that never touches a signed request.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{decode_error, names_from_stored, names_to_stored};
use crate::domain::certificates::requests::{
    CertificateRequest, DomainType, NewRequest, RequestFields, RequestFilter, RequestSecrets, STATUS_PENDING,
};
use crate::domain::certificates::{KeySpec, SignatureDigest};
use crate::store::written::Written;
use crate::store::{Store, StoreResult};

const COLUMNS: &str = "id, application_id, code, certificate_type, domain_type, organization, common_name, san, tags, \
    encryption, encryption_key_size, certificate_algorithm, validity, environments, systems, project, external_ip, \
    hostname_ip, justification, responsible, description, csr, status, created_at, updated_at";

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Created(i64),
    Replaced(i64),
    /// The request exists and is signed: nothing was changed.
    AlreadySigned,
}

fn request(row: &AnyRow) -> StoreResult<CertificateRequest> {
    let domain_type: String = row.try_get("domain_type")?;
    let encryption: String = row.try_get("encryption")?;
    let size: i64 = row.try_get("encryption_key_size")?;
    let digest: String = row.try_get("certificate_algorithm")?;
    let names = |column: &str| -> StoreResult<Vec<String>> { names_from_stored(&row.try_get::<String, _>(column)?) };
    Ok(CertificateRequest {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        code: row.try_get("code")?,
        fields: RequestFields {
            certificate_type: row.try_get("certificate_type")?,
            domain_type: DomainType::parse(&domain_type).ok_or_else(|| decode_error(domain_type.clone()))?,
            organization: row.try_get("organization")?,
            common_name: row.try_get("common_name")?,
            san: names("san")?,
            tags: names("tags")?,
            key: KeySpec::parse(&encryption, &size.to_string()).map_err(decode_error)?,
            digest: SignatureDigest::parse(&digest).map_err(decode_error)?,
            validity_days: row.try_get("validity")?,
            environments: names("environments")?,
            systems: names("systems")?,
            project: row.try_get("project")?,
            external_ip: row.try_get("external_ip")?,
            hostname_ip: row.try_get("hostname_ip")?,
            justification: row.try_get("justification")?,
            responsible: row.try_get("responsible")?,
            description: row.try_get("description")?,
        },
        csr_pem: row.try_get("csr")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates the request, or replaces a pending one with the same code, in one statement: of
    /// simultaneous calls with one code, one creates and the others replace, in some order.
    pub async fn upsert_certificate_request(&self, r: &NewRequest, now: i64) -> StoreResult<Upserted> {
        let f = &r.fields;
        let row = sqlx::query(
            "INSERT INTO certificate_requests (application_id, code, certificate_type, domain_type, organization, \
             common_name, san, tags, encryption, encryption_key_size, certificate_algorithm, validity, environments, \
             systems, project, external_ip, hostname_ip, justification, responsible, description, key_password_hash, \
             revocation_hash, csr, private_key, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
             $22, $23, $24, $25, $26, $26) \
             ON CONFLICT (application_id, code) DO UPDATE SET certificate_type = excluded.certificate_type, \
             domain_type = excluded.domain_type, organization = excluded.organization, \
             common_name = excluded.common_name, san = excluded.san, tags = excluded.tags, \
             encryption = excluded.encryption, encryption_key_size = excluded.encryption_key_size, \
             certificate_algorithm = excluded.certificate_algorithm, validity = excluded.validity, \
             environments = excluded.environments, systems = excluded.systems, project = excluded.project, \
             external_ip = excluded.external_ip, hostname_ip = excluded.hostname_ip, \
             justification = excluded.justification, responsible = excluded.responsible, \
             description = excluded.description, key_password_hash = excluded.key_password_hash, \
             revocation_hash = excluded.revocation_hash, csr = excluded.csr, private_key = excluded.private_key, \
             updated_at = excluded.updated_at, revision = certificate_requests.revision + 1 \
             WHERE certificate_requests.status = $25 \
             RETURNING id, revision",
        )
        .bind(r.application_id)
        .bind(&r.code)
        .bind(f.certificate_type)
        .bind(f.domain_type.as_str())
        .bind(&f.organization)
        .bind(&f.common_name)
        .bind(names_to_stored(&f.san))
        .bind(names_to_stored(&f.tags))
        .bind(f.key.encryption())
        .bind(i64::from(f.key.bits()))
        .bind(f.digest.as_str())
        .bind(f.validity_days)
        .bind(names_to_stored(&f.environments))
        .bind(names_to_stored(&f.systems))
        .bind(f.project.as_deref())
        .bind(f.external_ip.as_deref())
        .bind(f.hostname_ip.as_deref())
        .bind(f.justification.as_deref())
        .bind(f.responsible.as_deref())
        .bind(f.description.as_deref())
        .bind(r.key_password_hash.as_deref())
        .bind(r.revocation_hash.as_deref())
        .bind(&r.csr_pem)
        .bind(r.sealed_key.as_slice())
        .bind(STATUS_PENDING)
        .bind(now)
        .written_optional(&self.writer)
        .await?;
        Ok(match row {
            None => Upserted::AlreadySigned,
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                if row.try_get::<i64, _>("revision")? == 0 { Upserted::Created(id) } else { Upserted::Replaced(id) }
            }
        })
    }

    pub async fn certificate_request(
        &self,
        application_id: i64,
        code: &str,
    ) -> StoreResult<Option<CertificateRequest>> {
        Ok(self.certificate_request_with_secrets(application_id, code).await?.map(|(r, _)| r))
    }

    pub async fn certificate_request_with_secrets(
        &self,
        application_id: i64,
        code: &str,
    ) -> StoreResult<Option<(CertificateRequest, RequestSecrets)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, private_key, key_password_hash, revocation_hash FROM certificate_requests \
             WHERE application_id = $1 AND code = $2"
        ))
        .bind(application_id)
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let secrets = RequestSecrets {
                sealed_key: r.try_get("private_key")?,
                key_password_hash: r.try_get("key_password_hash")?,
                revocation_hash: r.try_get("revocation_hash")?,
            };
            Ok((request(&r)?, secrets))
        })
        .transpose()
    }

    /// An application's requests, oldest first, with the list's filters.
    pub async fn certificate_requests(
        &self,
        application_id: i64,
        f: &RequestFilter,
    ) -> StoreResult<Vec<CertificateRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificate_requests WHERE application_id = $1 \
             AND ($2 IS NULL OR code = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR common_name = $4) \
             AND ($5 IS NULL OR domain_type = $5) AND ($6 IS NULL OR certificate_type = $6) \
             AND ($7 IS NULL OR organization = $7) AND ($8 IS NULL OR project = $8) \
             ORDER BY id LIMIT $9 OFFSET $10"
        ))
        .bind(application_id)
        .bind(f.code.as_deref())
        .bind(f.status)
        .bind(f.common_name.as_deref())
        .bind(f.domain_type.map(DomainType::as_str))
        .bind(f.certificate_type)
        .bind(f.organization.as_deref())
        .bind(f.project.as_deref())
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request).collect()
    }
}
