//! The references (foreign keys) between the store's tables, read from its own catalog, and
//! the order they give: a table after every table it references, so a copy loads each row
//! after the rows it points at. Read from the live schema, the order follows every migration
//! without a list to keep up to date.
//!
//! Two kinds of reference no table order satisfies: a table's reference to itself (a row may
//! point at a later row) and a cycle between tables. A restore loads such references last
//! (`loading.rs`).

use sqlx::Row;

use crate::store::{Backend, Store, StoreResult};

/// Column `column` of `table` references table `parent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub table: String,
    pub column: String,
    pub parent: String,
}

impl Store {
    /// Every foreign key column of the store's tables.
    pub async fn references(&self) -> StoreResult<Vec<Reference>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS tbl, f.\"from\" AS col, f.\"table\" AS parent \
                 FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' \
                 ORDER BY m.name, f.id, f.seq"
            }
            Backend::Postgres => {
                "SELECT CAST(child.relname AS TEXT) AS tbl, CAST(a.attname AS TEXT) AS col, \
                 CAST(parent.relname AS TEXT) AS parent \
                 FROM pg_constraint c \
                 JOIN pg_class child ON child.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = child.relnamespace \
                 JOIN pg_class parent ON parent.oid = c.confrelid \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() \
                 ORDER BY 1, CAST(c.conname AS TEXT), 2"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Reference { table: r.try_get("tbl")?, column: r.try_get("col")?, parent: r.try_get("parent")? })
            })
            .collect()
    }
}

/// `tables` (in creation order) reordered so that each comes after the tables it references,
/// creation order deciding among tables free to go. References of a table to itself are left
/// aside; of a cycle, the earliest created table goes first, and its references into the cycle
/// point forward.
pub fn dependency_order(tables: &[String], references: &[Reference]) -> Vec<String> {
    let mut placed: Vec<String> = Vec::with_capacity(tables.len());
    let mut waiting: Vec<&String> = tables.iter().collect();
    while !waiting.is_empty() {
        let waits_for = |table: &str| parents(table, references).filter(|p| waiting.iter().any(|w| w == p)).count();
        let next = match waiting.iter().position(|table| waits_for(table) == 0) {
            Some(free) => free,
            // Every table left is in a cycle or behind one: break the earliest cycle.
            None => waiting.iter().position(|table| on_cycle(table, &waiting, references)).unwrap_or(0),
        };
        placed.push(waiting.remove(next).clone());
    }
    placed
}

/// The tables `table` references, itself aside.
fn parents<'a>(table: &'a str, references: &'a [Reference]) -> impl Iterator<Item = &'a String> {
    references.iter().filter(move |r| r.table == table && r.parent != table).map(|r| &r.parent)
}

/// Whether following references among `waiting` from `table` leads back to it.
fn on_cycle(table: &str, waiting: &[&String], references: &[Reference]) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    let mut next: Vec<&str> = parents(table, references).map(String::as_str).collect();
    while let Some(at) = next.pop() {
        if at == table {
            return true;
        }
        if seen.contains(&at) || !waiting.iter().any(|w| w.as_str() == at) {
            continue;
        }
        seen.push(at);
        next.extend(parents(at, references).map(String::as_str));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn refs(list: &[(&str, &str)]) -> Vec<Reference> {
        list.iter()
            .map(|(table, parent)| Reference {
                table: (*table).to_owned(),
                column: format!("{parent}_id"),
                parent: (*parent).to_owned(),
            })
            .collect()
    }

    #[test]
    fn parents_come_first_and_creation_order_decides_the_rest() {
        // authorizations (created first) references users and dsm_applications, made later.
        let tables = names(&["applications", "authorizations", "protected_info", "users", "dsm_applications"]);
        let references = refs(&[
            ("authorizations", "applications"),
            ("authorizations", "users"),
            ("authorizations", "dsm_applications"),
            ("protected_info", "authorizations"),
            ("dsm_applications", "applications"),
        ]);
        assert_eq!(
            dependency_order(&tables, &references),
            names(&["applications", "users", "dsm_applications", "authorizations", "protected_info"])
        );
        assert_eq!(dependency_order(&tables, &[]), tables, "no reference: creation order");
    }

    #[test]
    fn a_reference_to_itself_does_not_hold_a_table_back() {
        let tables = names(&["credentials", "devices"]);
        let references = refs(&[("credentials", "credentials"), ("credentials", "devices")]);
        assert_eq!(dependency_order(&tables, &references), names(&["devices", "credentials"]));
    }

    #[test]
    fn a_cycle_starts_at_its_earliest_table_and_keeps_every_table() {
        let tables = names(&["a", "b", "c", "d"]);
        let references = refs(&[("a", "b"), ("b", "a"), ("c", "a"), ("d", "c"), ("a", "d")]);
        let order = dependency_order(&tables, &references);
        assert_eq!(order, names(&["a", "b", "c", "d"]));
        // `a` only waits behind the cycle of `b` and `c`: the cycle is broken, not `a`'s reference.
        let references = refs(&[("b", "c"), ("c", "b"), ("a", "c"), ("d", "a")]);
        assert_eq!(dependency_order(&tables, &references), names(&["b", "c", "a", "d"]));
    }

    #[test]
    fn a_reference_to_a_table_not_listed_is_ignored() {
        let tables = names(&["a", "b"]);
        assert_eq!(dependency_order(&tables, &refs(&[("a", "gone"), ("a", "b")])), names(&["b", "a"]));
    }
}
