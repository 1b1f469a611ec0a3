//! Writes whose statement returns rows (`INSERT … RETURNING`, `UPDATE … RETURNING`), read so the
//! commit's outcome reaches the caller. On SQLite a statement outside a transaction commits when
//! it is stepped to its end; `fetch_one` and `fetch_optional` stop at the first row, and the
//! commit then happens when sqlx resets the statement, which drops its error. With the disk
//! full that commit fails silently: the caller had its row, answered 201, and the write was
//! gone (issue 42). Reading every row steps the statement to its end, where a failed commit is
//! an error like any other.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Executor};

pub(super) trait Written {
    /// The one row the write returns; `RowNotFound` when it returned none.
    async fn written_one<'e>(self, writer: impl Executor<'e, Database = Any>) -> Result<AnyRow, sqlx::Error>;
    /// The row the write returns, if any.
    async fn written_optional<'e>(
        self,
        writer: impl Executor<'e, Database = Any>,
    ) -> Result<Option<AnyRow>, sqlx::Error>;
}

impl<'q> Written for Query<'q, Any, AnyArguments<'q>> {
    async fn written_one<'e>(self, writer: impl Executor<'e, Database = Any>) -> Result<AnyRow, sqlx::Error> {
        self.written_optional(writer).await?.ok_or(sqlx::Error::RowNotFound)
    }

    async fn written_optional<'e>(
        self,
        writer: impl Executor<'e, Database = Any>,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        Ok(self.fetch_all(writer).await?.into_iter().next())
    }
}
