//! Conditions and orders over the columns SCIM lists filter and sort on, rendered to
//! parameterised SQL. The service translates SCIM filters into a [`Cond`]; the store owns every
//! column name and operator text, and binds every value, so nothing from a request is ever
//! spliced into SQL. String matching uses `substr`/`instr` (`strpos` on PostgreSQL), not `LIKE`,
//! so `%` and `_` are plain characters; ordering comparisons and sorts are by code point
//! (`COLLATE "C"` on PostgreSQL, SQLite's default binary collation).

use crate::store::Backend;

/// The table a SCIM resource type lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimTable {
    Users,
    Groups,
}

impl ScimTable {
    /// `FROM … WHERE` with the rows that exist as SCIM resources (deleted users are not).
    fn live_rows(self) -> &'static str {
        match self {
            Self::Users => "FROM users WHERE deleted_at IS NULL",
            Self::Groups => "FROM groups WHERE 1 = 1",
        }
    }
}

/// A column, or an expression over one, that conditions compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    Id,
    /// The id as text, as SCIM shows it.
    IdText,
    /// `users.username`: the canonical (lower-cased) login.
    UserName,
    ExternalId,
    /// `users.enabled`, 0 or 1.
    Enabled,
    /// `groups.name`, lower-cased by the database (`LOWER`).
    NameLower,
    Created,
    Modified,
}

impl Col {
    fn sql(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::IdText => "CAST(id AS TEXT)",
            Self::UserName => "username",
            Self::ExternalId => "external_id",
            Self::Enabled => "enabled",
            Self::NameLower => "LOWER(name)",
            Self::Created => "created_at",
            Self::Modified => "updated_at",
        }
    }

    fn nullable(self) -> bool {
        self == Self::ExternalId
    }

    fn text(self) -> bool {
        matches!(self, Self::IdText | Self::UserName | Self::ExternalId | Self::NameLower)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A condition on one row. Every leaf is true or false, never NULL (a NULL column fails it), so
/// `Not` is plain negation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    True,
    False,
    Cmp(Col, Cmp, Val),
    Contains(Col, String),
    StartsWith(Col, String),
    EndsWith(Col, String),
    /// Not NULL and not the empty string.
    NotEmpty(Col),
    /// The user's SCIM document carries `active`, or it has no `userName` (a user cofre made
    /// itself): when SCIM shows the `active` attribute.
    ActiveShown,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::True, x) | (x, Self::True) => x,
            (Self::False, _) | (_, Self::False) => Self::False,
            (a, b) => Self::And(Box::new(a), Box::new(b)),
        }
    }

    pub fn or(self, other: Self) -> Self {
        match (self, other) {
            (Self::False, x) | (x, Self::False) => x,
            (Self::True, _) | (_, Self::True) => Self::True,
            (a, b) => Self::Or(Box::new(a), Box::new(b)),
        }
    }

    pub fn negate(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            Self::Not(inner) => *inner,
            other => Self::Not(Box::new(other)),
        }
    }
}

/// What a list sorts on; ties, and lists without a sort, go by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    /// The id as text (SCIM ids are strings: "10" sorts before "9").
    IdText,
    UserName,
    /// Lower-cased, a missing one as the empty string.
    ExternalIdLower,
    NameLower,
    Created,
    Modified,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub key: SortKey,
    pub descending: bool,
}

impl Order {
    pub const BY_ID: Self = Self { key: SortKey::Id, descending: false };
}

/// SQL text with its values to bind, in placeholder order.
pub(super) struct Sql {
    pub text: String,
    pub binds: Vec<Val>,
}

impl Sql {
    fn bind(&mut self, v: Val) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// `SELECT <what> FROM <table> WHERE <live> AND (<cond>)`.
    pub fn select(backend: Backend, what: &str, table: ScimTable, cond: &Cond) -> Self {
        let mut sql = Self { text: format!("SELECT {what} {} AND ", table.live_rows()), binds: Vec::new() };
        sql.cond(backend, cond);
        sql
    }

    /// ` ORDER BY … LIMIT … OFFSET …`.
    pub fn page(&mut self, backend: Backend, order: Order, offset: i64, limit: i64) {
        let collate = if backend == Backend::Postgres { " COLLATE \"C\"" } else { "" };
        let key = match order.key {
            SortKey::Id => None,
            SortKey::IdText => Some(format!("CAST(id AS TEXT){collate}")),
            SortKey::UserName => Some(format!("username{collate}")),
            SortKey::ExternalIdLower => Some(format!("COALESCE(LOWER(external_id), ''){collate}")),
            SortKey::NameLower => Some(format!("LOWER(name){collate}")),
            SortKey::Created => Some("created_at".to_owned()),
            SortKey::Modified => Some("updated_at".to_owned()),
        };
        let dir = if order.descending { " DESC" } else { "" };
        self.push(" ORDER BY ");
        if let Some(key) = key {
            self.push(&format!("{key}{dir}, "));
        }
        let (limit, offset) = (self.bind(Val::Int(limit)), self.bind(Val::Int(offset)));
        self.push(&format!("id{dir} LIMIT {limit} OFFSET {offset}"));
    }

    fn cond(&mut self, backend: Backend, cond: &Cond) {
        let leaf_col = match cond {
            Cond::Cmp(col, ..)
            | Cond::Contains(col, _)
            | Cond::StartsWith(col, _)
            | Cond::EndsWith(col, _)
            | Cond::NotEmpty(col) => Some(*col),
            _ => None,
        };
        // A NULL column fails the leaf instead of making it NULL.
        if let Some(col) = leaf_col.filter(|c| c.nullable()) {
            self.push(&format!("({} IS NOT NULL AND ", col.sql()));
        } else {
            self.push("(");
        }
        match cond {
            Cond::True => self.push("1 = 1"),
            Cond::False => self.push("1 = 0"),
            Cond::Cmp(col, op, v) => {
                let op = match op {
                    Cmp::Eq => "=",
                    Cmp::Gt => ">",
                    Cmp::Ge => ">=",
                    Cmp::Lt => "<",
                    Cmp::Le => "<=",
                };
                let collate =
                    if backend == Backend::Postgres && col.text() && op != "=" { " COLLATE \"C\"" } else { "" };
                let p = self.bind(v.clone());
                self.push(&format!("{}{collate} {op} {p}", col.sql()));
            }
            Cond::Contains(col, s) => {
                let p = self.bind(Val::Text(s.clone()));
                self.push(&match backend {
                    Backend::Sqlite => format!("instr({}, {p}) > 0", col.sql()),
                    Backend::Postgres => format!("strpos({}, {p}) > 0", col.sql()),
                });
            }
            Cond::StartsWith(col, s) => {
                let p = self.bind(Val::Text(s.clone()));
                self.push(&format!("substr({c}, 1, length({p})) = {p}", c = col.sql()));
            }
            Cond::EndsWith(col, s) => {
                let p = self.bind(Val::Text(s.clone()));
                self.push(&format!(
                    "length({c}) >= length({p}) AND substr({c}, length({c}) - length({p}) + 1) = {p}",
                    c = col.sql()
                ));
            }
            Cond::NotEmpty(col) => self.push(&format!("{} <> ''", col.sql())),
            Cond::ActiveShown => self.push(match backend {
                Backend::Sqlite => {
                    "json_extract(scim, '$.active') IS NOT NULL OR json_extract(scim, '$.userName') IS NULL"
                }
                Backend::Postgres => "(scim::jsonb -> 'active') IS NOT NULL OR (scim::jsonb -> 'userName') IS NULL",
            }),
            Cond::And(a, b) | Cond::Or(a, b) => {
                self.cond(backend, a);
                self.push(if matches!(cond, Cond::And(..)) { " AND " } else { " OR " });
                self.cond(backend, b);
            }
            Cond::Not(inner) => {
                self.push("NOT ");
                self.cond(backend, inner);
            }
        }
        self.push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(backend: Backend, cond: &Cond) -> (String, Vec<Val>) {
        let sql = Sql::select(backend, "id", ScimTable::Users, cond);
        (sql.text, sql.binds)
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let evil = "x' OR '1'='1";
        let cond = Cond::Cmp(Col::UserName, Cmp::Eq, Val::Text(evil.into()))
            .or(Cond::Contains(Col::ExternalId, "%_".into()).negate())
            .and(Cond::EndsWith(Col::IdText, "7".into()));
        let (text, binds) = render(Backend::Sqlite, &cond);
        assert!(!text.contains(evil) && !text.contains("%_"), "{text}");
        assert_eq!(
            text,
            "SELECT id FROM users WHERE deleted_at IS NULL AND (((username = $1) OR (NOT (external_id IS NOT NULL AND \
             instr(external_id, $2) > 0))) AND (length(CAST(id AS TEXT)) >= length($3) AND \
             substr(CAST(id AS TEXT), length(CAST(id AS TEXT)) - length($3) + 1) = $3))"
        );
        assert_eq!(binds, [Val::Text(evil.into()), Val::Text("%_".into()), Val::Text("7".into())]);
    }

    #[test]
    fn orderings_compare_code_points() {
        let (text, _) = render(Backend::Postgres, &Cond::Cmp(Col::UserName, Cmp::Gt, Val::Text("m".into())));
        assert!(text.contains("username COLLATE \"C\" > $1"), "{text}");
        let mut sql = Sql::select(Backend::Postgres, "id", ScimTable::Groups, &Cond::True);
        sql.page(Backend::Postgres, Order { key: SortKey::NameLower, descending: true }, 400, 200);
        assert_eq!(
            sql.text,
            "SELECT id FROM groups WHERE 1 = 1 AND (1 = 1) ORDER BY LOWER(name) COLLATE \"C\" DESC, id DESC LIMIT $1 OFFSET $2"
        );
        assert_eq!(sql.binds, [Val::Int(200), Val::Int(400)]);
    }

    #[test]
    fn constants_fold() {
        assert_eq!(Cond::True.and(Cond::NotEmpty(Col::ExternalId)), Cond::NotEmpty(Col::ExternalId));
        assert_eq!(Cond::False.or(Cond::True), Cond::True);
        assert_eq!(Cond::ActiveShown.and(Cond::False), Cond::False);
        assert_eq!(Cond::ActiveShown.negate().negate(), Cond::ActiveShown);
    }
}
