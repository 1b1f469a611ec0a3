//! Password policies, their assignments, and the rotation claims that keep several processes
//! from rotating the same credential twice.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::pam::Policy;
use crate::store::written::Written;
use crate::store::{Backend, Store, StoreResult, flag};

/// Rescheduled credentials written per statement (two parameters each).
const RESCHEDULE_BATCH: usize = 500;

/// Precedence, lowest first: the credential's own policy, its device's, then its tags' in the
/// order the credential lists them.
const CREDENTIAL_RANK: usize = 0;
const DEVICE_RANK: usize = 1;

fn tag_rank<'a>(mut tags: impl Iterator<Item = &'a str>, target: &str) -> Option<usize> {
    tags.position(|t| t == target).map(|p| 2 + p)
}

fn credential_tags(tags: &str) -> impl Iterator<Item = &str> {
    tags.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// The policies assigned to a credential, its device and any tag: `(target_kind, target, policy)`.
pub struct PolicyCandidates(Vec<(String, String, Policy)>);

impl PolicyCandidates {
    /// The most specific of them for a credential with `tags`.
    pub fn effective(&self, tags: &[&str]) -> Option<&Policy> {
        let rank = |kind: &str, target: &str| match kind {
            "credential" => Some(CREDENTIAL_RANK),
            "device" => Some(DEVICE_RANK),
            "tag" => tag_rank(tags.iter().copied(), target),
            _ => None,
        };
        self.0
            .iter()
            .filter_map(|(kind, target, policy)| rank(kind, target).map(|r| (r, policy)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, policy)| policy)
    }
}

fn policy(row: &AnyRow) -> StoreResult<Policy> {
    Ok(Policy {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        length: row.try_get("length")?,
        lowercase: row.try_get("lowercase")?,
        uppercase: row.try_get("uppercase")?,
        digits: row.try_get("digits")?,
        symbols: row.try_get("symbols")?,
        exclude: row.try_get("exclude")?,
        key_algorithm: row.try_get("key_algorithm")?,
        rotation_interval: row.try_get("rotation_interval")?,
        rotate_after_custody: flag(row, "rotate_after_custody")?,
    })
}

impl Store {
    pub async fn insert_policy(&self, p: &Policy, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO password_policies (name, length, lowercase, uppercase, digits, symbols, exclude, key_algorithm, \
             rotation_interval, rotate_after_custody, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(p.name.as_str())
        .bind(p.length)
        .bind(p.lowercase)
        .bind(p.uppercase)
        .bind(p.digits)
        .bind(p.symbols)
        .bind(p.exclude.as_str())
        .bind(p.key_algorithm.as_str())
        .bind(p.rotation_interval)
        .bind(i64::from(p.rotate_after_custody))
        .bind(now)
        .written_one(&self.writer)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn policies(&self) -> StoreResult<Vec<Policy>> {
        sqlx::query("SELECT * FROM password_policies ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(policy)
            .collect()
    }

    pub async fn policy_by_name(&self, name: &str) -> StoreResult<Policy> {
        policy(&sqlx::query("SELECT * FROM password_policies WHERE name = $1").bind(name).fetch_one(&self.pool).await?)
    }

    /// Assigns (or with `None`, unassigns) a policy to `credential`/`device`/`tag` `target`, and
    /// reschedules every credential, in one transaction: the change applies whole or not at all.
    /// `due` gives a credential's next rotation from its last change and the rotation interval of
    /// its effective policy (`None` without one). Returns how many credentials were rescheduled.
    pub async fn assign_policy(
        &self,
        target_kind: &str,
        target: &str,
        policy_id: Option<i64>,
        due: impl Fn(i64, Option<i64>) -> Option<i64>,
    ) -> StoreResult<usize> {
        let mut tx = self.writer.begin("assign_policy").await?;
        sqlx::query("DELETE FROM policy_assignments WHERE target_kind = $1 AND target = $2")
            .bind(target_kind)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        if let Some(id) = policy_id {
            sqlx::query("INSERT INTO policy_assignments (target_kind, target, policy_id) VALUES ($1, $2, $3)")
                .bind(target_kind)
                .bind(target)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let changes: Vec<(i64, Option<i64>)> = schedules(&mut tx, self.backend)
            .await?
            .into_iter()
            .filter_map(|s| {
                let next = due(s.changed_at, s.interval);
                (next != s.current).then_some((s.id, next))
            })
            .collect();
        for batch in changes.chunks(RESCHEDULE_BATCH) {
            set_next_rotations(&mut tx, batch).await?;
        }
        tx.commit().await?;
        Ok(changes.len())
    }

    /// The most specific policy: the credential's own, else its device's, else its first tag's.
    pub async fn effective_policy(
        &self,
        credential_id: i64,
        device_id: i64,
        tags: &[&str],
    ) -> StoreResult<Option<Policy>> {
        Ok(self.policy_candidates(credential_id, device_id).await?.effective(tags).cloned())
    }

    /// Every policy that may apply to a credential on a device, whatever its tags: read before
    /// a change that locks the credential, which then chooses by the tags it finds.
    pub async fn policy_candidates(&self, credential_id: i64, device_id: i64) -> StoreResult<PolicyCandidates> {
        let rows = sqlx::query(
            "SELECT a.target_kind, a.target, p.* FROM policy_assignments a JOIN password_policies p ON p.id = a.policy_id \
             WHERE (a.target_kind = 'credential' AND a.target = $1) OR (a.target_kind = 'device' AND a.target = $2) \
             OR a.target_kind = 'tag'",
        )
        .bind(credential_id.to_string())
        .bind(device_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let candidates = rows
            .iter()
            .map(|r| Ok((r.try_get("target_kind")?, r.try_get("target")?, policy(r)?)))
            .collect::<StoreResult<_>>()?;
        Ok(PolicyCandidates(candidates))
    }

    /// Takes up to `limit` credentials due for rotation, leasing them until `lease_until` so
    /// that no other process takes them meanwhile. PostgreSQL skips rows another transaction
    /// holds; SQLite has one writer at a time, which serialises claims by itself.
    pub async fn claim_due_rotations(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<i64>> {
        let lock = if self.backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE credentials SET rotation_lease = $1 WHERE id IN (SELECT id FROM credentials WHERE enabled = 1 \
             AND next_rotation_at IS NOT NULL AND next_rotation_at <= $2 AND rotation_lease <= $2 \
             ORDER BY next_rotation_at LIMIT $3 {lock}) RETURNING id"
        );
        let rows = sqlx::query(&sql).bind(lease_until).bind(now).bind(limit).fetch_all(&self.writer).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Records a failed rotation: the secret stays, the error is kept, a retry is scheduled.
    pub async fn fail_rotation(&self, id: i64, error: &str, retry_at: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE credentials SET rotation_error = $1, next_rotation_at = $2, rotation_lease = 0, revision = revision + 1 WHERE id = $3",
        )
        .bind(error)
        .bind(retry_at)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn rotation_error(&self, id: i64) -> StoreResult<String> {
        let row =
            sqlx::query("SELECT rotation_error FROM credentials WHERE id = $1").bind(id).fetch_one(&self.pool).await?;
        Ok(row.try_get("rotation_error")?)
    }
}

/// A credential's schedule: its next rotation now, its last change, and the rotation interval
/// of its effective policy.
struct Schedule {
    id: i64,
    current: Option<i64>,
    changed_at: i64,
    interval: Option<i64>,
}

/// Every credential's schedule, with the precedence of `effective_policy`, from one query: the
/// credential's and its device's assignments by key; tag assignments, only for credentials
/// without either, by substring, ranked exactly here (tags are a comma-separated list).
async fn schedules(tx: &mut sqlx::Transaction<'_, sqlx::Any>, backend: Backend) -> StoreResult<Vec<Schedule>> {
    let contains = match backend {
        Backend::Sqlite => "instr(c.tags, t.target) > 0",
        Backend::Postgres => "strpos(c.tags, t.target) > 0",
    };
    let sql = format!(
        "SELECT c.id, c.tags, c.next_rotation_at, c.changed_at, \
         ac.policy_id AS credential_policy, pc.rotation_interval AS credential_interval, \
         ad.policy_id AS device_policy, pd.rotation_interval AS device_interval, \
         t.target AS tag, pt.rotation_interval AS tag_interval \
         FROM credentials c \
         LEFT JOIN policy_assignments ac ON ac.target_kind = 'credential' AND ac.target = CAST(c.id AS TEXT) \
         LEFT JOIN password_policies pc ON pc.id = ac.policy_id \
         LEFT JOIN policy_assignments ad ON ad.target_kind = 'device' AND ad.target = CAST(c.device_id AS TEXT) \
         LEFT JOIN password_policies pd ON pd.id = ad.policy_id \
         LEFT JOIN policy_assignments t ON ac.policy_id IS NULL AND ad.policy_id IS NULL \
         AND t.target_kind = 'tag' AND {contains} \
         LEFT JOIN password_policies pt ON pt.id = t.policy_id \
         ORDER BY c.id"
    );
    let rows = sqlx::query(&sql).fetch_all(&mut **tx).await?;
    let mut out: Vec<(Schedule, Option<usize>)> = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        if out.last().is_none_or(|(s, _)| s.id != id) {
            let own: Option<i64> = row.try_get("credential_policy")?;
            let device: Option<i64> = row.try_get("device_policy")?;
            let (rank, interval) = if own.is_some() {
                (Some(CREDENTIAL_RANK), row.try_get("credential_interval")?)
            } else if device.is_some() {
                (Some(DEVICE_RANK), row.try_get("device_interval")?)
            } else {
                (None, None)
            };
            let schedule = Schedule {
                id,
                current: row.try_get("next_rotation_at")?,
                changed_at: row.try_get("changed_at")?,
                interval,
            };
            out.push((schedule, rank));
        }
        let Some(target) = row.try_get::<Option<String>, _>("tag")? else { continue };
        let tags: String = row.try_get("tags")?;
        let Some((schedule, best)) = out.last_mut() else { continue };
        if let Some(rank) = tag_rank(credential_tags(&tags), &target) {
            if best.is_none_or(|b| rank < b) {
                *best = Some(rank);
                schedule.interval = row.try_get("tag_interval")?;
            }
        }
    }
    Ok(out.into_iter().map(|(s, _)| s).collect())
}

/// Writes new next-rotation times, `(credential, at)`, in one statement.
async fn set_next_rotations(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    batch: &[(i64, Option<i64>)],
) -> StoreResult<()> {
    let mut cases = String::new();
    let mut ids = Vec::with_capacity(batch.len());
    for i in 0..batch.len() {
        cases.push_str(&format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2));
        ids.push(format!("${}", 2 * i + 1));
    }
    let sql = format!(
        "UPDATE credentials SET next_rotation_at = CASE id{cases} END, revision = revision + 1 WHERE id IN ({})",
        ids.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (id, at) in batch {
        query = query.bind(*id).bind(*at);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
