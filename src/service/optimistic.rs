//! Optimistic writes: a change is written only over the revision of the row it read. When
//! another caller changed the row in between, the row is read again and the change re-applied,
//! so changes to different fields both survive; a concurrent change of a field this change
//! also sets, to another value, is a conflict (409) and nothing is overwritten.

use crate::error::{ApiError, ApiResult};
use crate::service::MAX_MERGES;

/// Runs `write` over a fresh `read` until it applies (`Some`). `fields` gives the current
/// values of the fields the change sets, `wanted` the values it sets them to: a field that moved
/// since the first read to something other than `wanted` is a conflict.
/// (Plain closures returning futures rather than async closures: their futures stay `Send`.)
pub async fn write_merging<R, V: PartialEq, T, Read, Write>(
    read: impl Fn() -> Read,
    fields: impl Fn(&R) -> Vec<V>,
    wanted: &[V],
    write: impl Fn(R) -> Write,
) -> ApiResult<T>
where
    Read: Future<Output = ApiResult<R>>,
    Write: Future<Output = ApiResult<Option<T>>>,
{
    let mut first: Option<Vec<V>> = None;
    for _ in 0..MAX_MERGES {
        let row = read().await?;
        let seen = fields(&row);
        match &first {
            None => first = Some(seen),
            Some(first) => {
                let moved = first.iter().zip(&seen).zip(wanted).any(|((was, is), want)| is != was && is != want);
                if moved {
                    return Err(ApiError::concurrent_change());
                }
            }
        }
        if let Some(done) = write(row).await? {
            return Ok(done);
        }
    }
    Err(ApiError::concurrent_change())
}
