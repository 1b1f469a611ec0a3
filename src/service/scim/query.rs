//! SCIM list queries: filter, sort, page (RFC 7644 §3.4.2) and attribute projection.
//!
//! Lists never load a whole table. When the filter and `sortBy` name only attributes that are
//! columns (`id`, `externalId`, `userName`, `active`, a group's `displayName`, `meta.created`,
//! `meta.lastModified`; see `translate.rs`), the store answers: `totalResults` is a `COUNT(*)`,
//! the page is `ORDER BY … LIMIT … OFFSET`, and only the page's rows and memberships are read.
//!
//! Anything else — a filter or sort on an attribute of the JSON document such as `emails.value`
//! or `name.givenName` — is evaluated here, over a bounded scan: the rows that the column part of
//! the filter allows are read [`SCAN_BATCH`] at a time in id order, each match keeps only its
//! sort key and id, and the page is read by id at the end. When more than [`MAX_SCAN`] rows (of
//! one resource type) would have to be examined, the list is refused with 400 `tooMany`
//! (RFC 7644 §3.12): the client narrows the filter with a column attribute, e.g.
//! `userName sw "a" and emails.value co "x"`. Pages hold at most [`MAX_RESULTS`] resources.

use serde_json::{Value, json};

use crate::domain::scim::eval::{self, get_ci};
use crate::domain::scim::filter::{self, AttrPath, Filter};
use crate::service::Core;
use crate::service::scim::error::{ScimError, ScimResult, bad};
use crate::service::scim::resources::{ResourceKind, group_json, user_json};
use crate::service::scim::schema::{MAX_RESULTS, case_exact};
use crate::service::scim::translate;
use crate::store::scim::query::{Cmp, Col, Cond, Order, ScimTable, SortKey, Val};

/// Rows read per step of a scan.
pub const SCAN_BATCH: i64 = 500;
/// The most rows of one resource type a scan examines before the list is refused.
pub const MAX_SCAN: i64 = 10_000;

pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: i64,
    pub count: Option<i64>,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// A list query, checked.
struct Plan {
    filter: Option<Filter>,
    sort: Option<AttrPath>,
    descending: bool,
    /// 1-based, at least 1.
    start: i64,
    /// 0 to `MAX_RESULTS`.
    count: i64,
}

fn plan(q: &ListQuery) -> ScimResult<Plan> {
    let filter = match q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => {
            let f = filter::parse(text).map_err(|e| bad("invalidFilter", e))?;
            if eval::mentions(&f, "password") {
                return Err(bad("invalidFilter", "password cannot be filtered on"));
            }
            Some(f)
        }
        None => None,
    };
    let sort = q.sort_by.as_deref().map(filter::parse_attr_path).transpose().map_err(|e| bad("invalidPath", e))?;
    Ok(Plan {
        filter,
        sort,
        descending: q.descending,
        start: q.start_index.max(1),
        count: q.count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS),
    })
}

const fn table(kind: ResourceKind) -> ScimTable {
    match kind {
        ResourceKind::User => ScimTable::Users,
        ResourceKind::Group => ScimTable::Groups,
    }
}

/// The matches of a query in one resource type.
enum Hits {
    /// Counted and paged by the store.
    Store { cond: Cond, order: Order, total: i64 },
    /// Found by a scan: their ids, in the list's order.
    Scanned(Vec<i64>),
}

impl Hits {
    fn total(&self) -> i64 {
        match self {
            Self::Store { total, .. } => *total,
            Self::Scanned(ids) => i64::try_from(ids.len()).unwrap_or(i64::MAX),
        }
    }
}

async fn hits(core: &Core, kind: ResourceKind, base: &str, plan: &Plan) -> ScimResult<Hits> {
    let cond = plan.filter.as_ref().map_or(Some(Cond::True), |f| translate::exact(f, kind));
    let key = plan.sort.as_ref().map_or(Some(SortKey::Id), |p| translate::sort_key(p, kind));
    if let (Some(cond), Some(key)) = (cond, key) {
        let total = core.store.scim_count(table(kind), &cond).await?;
        let order = Order { key, descending: plan.descending && plan.sort.is_some() };
        return Ok(Hits::Store { cond, order, total });
    }
    let mut found = scan(core, kind, base, plan).await?;
    sort(&mut found, plan);
    Ok(Hits::Scanned(found.into_iter().map(|(_, id)| id).collect()))
}

fn too_many() -> ScimError {
    bad(
        "tooMany",
        format!(
            "This query would examine more than {MAX_SCAN} resources one by one: narrow the filter with \
             id, userName, externalId, active, displayName (groups), meta.created or meta.lastModified"
        ),
    )
}

/// The (sort key, id) of every match of the plan's filter, in id order, reading the rows that
/// the filter's column part allows a batch at a time.
async fn scan(core: &Core, kind: ResourceKind, base: &str, plan: &Plan) -> ScimResult<Vec<(String, i64)>> {
    let narrow = plan.filter.as_ref().map_or(Cond::True, |f| translate::narrow(f, kind));
    if core.store.scim_count(table(kind), &narrow).await? > MAX_SCAN {
        return Err(too_many());
    }
    let mut found = Vec::new();
    let (mut after, mut examined) = (i64::MIN, 0);
    loop {
        let batch = narrow.clone().and(Cond::Cmp(Col::Id, Cmp::Gt, Val::Int(after)));
        let ids = core.store.scim_page_ids(table(kind), &batch, Order::BY_ID, 0, SCAN_BATCH).await?;
        let Some(&last) = ids.last() else { break };
        examined += ids.len();
        if i64::try_from(examined).unwrap_or(i64::MAX) > MAX_SCAN {
            return Err(too_many());
        }
        for (id, resource) in load(core, kind, base, &ids).await? {
            if plan.filter.as_ref().is_none_or(|f| eval::matches(f, &resource, case_exact)) {
                found.push((plan.sort.as_ref().map(|p| sort_text(&resource, p)).unwrap_or_default(), id));
            }
        }
        after = last;
        if i64::try_from(ids.len()).unwrap_or(i64::MAX) < SCAN_BATCH {
            break;
        }
    }
    Ok(found)
}

/// What a resource sorts by: the value's text, lower-cased (missing values first).
fn sort_text(resource: &Value, path: &AttrPath) -> String {
    let v = get_ci(resource, &path.name).map(|v| match (&path.sub, v) {
        (Some(sub), Value::Array(items)) => items.first().and_then(|i| get_ci(i, sub)).cloned().unwrap_or(Value::Null),
        (Some(sub), other) => get_ci(other, sub).cloned().unwrap_or(Value::Null),
        (None, other) => other.clone(),
    });
    v.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_lowercase)).unwrap_or_default()
}

/// Sorts scanned matches (stably: ties stay in id order, reversed when descending).
fn sort<T>(found: &mut [(String, T)], plan: &Plan) {
    if plan.sort.is_some() {
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if plan.descending {
            found.reverse();
        }
    }
}

/// Resources by id, as JSON, in the order of `ids`.
async fn load(core: &Core, kind: ResourceKind, base: &str, ids: &[i64]) -> ScimResult<Vec<(i64, Value)>> {
    Ok(match kind {
        ResourceKind::User => {
            core.store.scim_users_by_id(ids).await?.iter().map(|u| (u.id, user_json(base, u))).collect()
        }
        ResourceKind::Group => {
            core.store.scim_groups_by_id(ids).await?.iter().map(|g| (g.id, group_json(base, g))).collect()
        }
    })
}

/// The resources of one page: `limit` from `offset` (0-based).
async fn page(
    core: &Core,
    kind: ResourceKind,
    base: &str,
    hits: &Hits,
    offset: i64,
    limit: i64,
) -> ScimResult<Vec<Value>> {
    let ids = match hits {
        _ if limit <= 0 || offset >= hits.total() => return Ok(Vec::new()),
        Hits::Store { cond, order, .. } => core.store.scim_page_ids(table(kind), cond, *order, offset, limit).await?,
        Hits::Scanned(ids) => ids
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .copied()
            .collect(),
    };
    Ok(load(core, kind, base, &ids).await?.into_iter().map(|(_, r)| r).collect())
}

fn response(total: i64, start: i64, page: Vec<Value>, q: &ListQuery) -> Value {
    let page: Vec<Value> = page.into_iter().map(|r| project(r, &q.attributes, &q.excluded)).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "itemsPerPage": page.len(), "startIndex": start, "Resources": page,
    })
}

/// `GET /Users` or `/Groups` (or their `.search`): one page of a ListResponse.
pub async fn list(core: &Core, kind: ResourceKind, base: &str, q: &ListQuery) -> ScimResult<Value> {
    let plan = plan(q)?;
    let hits = hits(core, kind, base, &plan).await?;
    let items = page(core, kind, base, &hits, plan.start - 1, plan.count).await?;
    Ok(response(hits.total(), plan.start, items, q))
}

/// A search at the root: users, then groups. Unsorted, the page runs across the two lists;
/// sorted, they are merged, which takes a scan of both (each bounded as above).
pub async fn search_all(core: &Core, base: &str, q: &ListQuery) -> ScimResult<Value> {
    let plan = plan(q)?;
    let (offset, limit) = (plan.start - 1, plan.count);
    if plan.sort.is_none() {
        let users = hits(core, ResourceKind::User, base, &plan).await?;
        let groups = hits(core, ResourceKind::Group, base, &plan).await?;
        let mut items = page(core, ResourceKind::User, base, &users, offset, limit).await?;
        let from_users = (users.total() - offset).clamp(0, limit);
        let group_offset = (offset - users.total()).max(0);
        items.extend(page(core, ResourceKind::Group, base, &groups, group_offset, limit - from_users).await?);
        return Ok(response(users.total() + groups.total(), plan.start, items, q));
    }
    let mut found = Vec::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        found.extend(scan(core, kind, base, &plan).await?.into_iter().map(|(key, id)| (key, (kind, id))));
    }
    sort(&mut found, &plan);
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let chosen: Vec<(ResourceKind, i64)> = found
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|(_, hit)| hit)
        .collect();
    let ids = |kind: ResourceKind| chosen.iter().filter(|(k, _)| *k == kind).map(|(_, id)| *id).collect::<Vec<_>>();
    let mut users = load(core, ResourceKind::User, base, &ids(ResourceKind::User)).await?;
    let mut groups = load(core, ResourceKind::Group, base, &ids(ResourceKind::Group)).await?;
    let mut items = Vec::new();
    for (kind, id) in chosen {
        let loaded = if kind == ResourceKind::User { &mut users } else { &mut groups };
        if let Some(i) = loaded.iter().position(|(found, _)| *found == id) {
            items.push(loaded.swap_remove(i).1);
        }
    }
    Ok(response(total, plan.start, items, q))
}

/// `attributes` keeps only the named attributes (with `id` and `schemas`); `excludedAttributes`
/// drops the named ones.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(map) = resource else { return resource };
    let top = |name: &str| -> String {
        let name =
            name.rsplit_once(':').filter(|_| name.to_ascii_lowercase().starts_with("urn:")).map_or(name, |(_, n)| n);
        name.split('.').next().unwrap_or(name).to_ascii_lowercase()
    };
    let keep: Vec<String> = attributes.iter().map(|a| top(a)).collect();
    let drop: Vec<String> = excluded.iter().map(|a| top(a)).collect();
    Value::Object(
        map.into_iter()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                let always = k == "id" || k == "schemas";
                always || ((keep.is_empty() || keep.contains(&k)) && !drop.contains(&k))
            })
            .collect(),
    )
}
