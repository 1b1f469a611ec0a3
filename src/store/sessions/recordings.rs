//! Session recordings: sealed chunks, in order.

use sqlx::Row;

use crate::store::{Store, StoreResult};

impl Store {
    pub async fn insert_recording_chunk(&self, session: i64, seq: i64, sealed: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO session_recordings (session, seq, chunk, written_at) VALUES ($1, $2, $3, $4)")
            .bind(session)
            .bind(seq)
            .bind(sealed)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The sealed chunks of a session's recording from `from_seq` on, at most `limit`, in order.
    pub async fn recording_chunks(&self, session: i64, from_seq: i64, limit: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT seq, chunk FROM session_recordings WHERE session = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(session)
        .bind(from_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("seq")?, r.try_get("chunk")?))).collect()
    }
}
