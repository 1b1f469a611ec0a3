//! SCIM filters (RFC 7644 §3.4.2.2): parsing, with length and depth limits. Evaluation is in
//! `eval.rs`.

use serde_json::Value;

pub const MAX_FILTER_LEN: usize = 4096;
pub const MAX_DEPTH: usize = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct AttrPath {
    /// A schema URN prefix, as given (`urn:…:enterprise:2.0:User`).
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// `name` or `name.sub`, lower-cased: the key for case rules.
    pub fn key(&self) -> String {
        match &self.sub {
            Some(sub) => format!("{}.{}", self.name, sub).to_ascii_lowercase(),
            None => self.name.to_ascii_lowercase(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare(AttrPath, Op, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]` (optionally `.value` in paths, not in filters).
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => (tokens.push(Token::LParen), i += 1).1,
            ')' => (tokens.push(Token::RParen), i += 1).1,
            '[' => (tokens.push(Token::LBracket), i += 1).1,
            ']' => (tokens.push(Token::RBracket), i += 1).1,
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err("unterminated string".into());
                }
                let literal: String = chars[start..=i].iter().collect();
                tokens.push(Token::Str(serde_json::from_str(&literal).map_err(|_| "invalid string".to_owned())?));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '\t' | '\n' | '\r' | '(' | ')' | '[' | ']' | '"') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                    tokens.push(Token::Num(word.parse().map_err(|_| format!("invalid number {word:?}"))?));
                } else {
                    tokens.push(Token::Word(word));
                }
            }
        }
    }
    Ok(tokens)
}

/// `urn:…:Name.sub` or `name.sub`; attribute names are `ALPHA *(nameChar)`.
pub fn parse_attr_path(word: &str) -> Result<AttrPath, String> {
    let (urn, rest) = match word.rfind(':') {
        Some(i) if word.to_ascii_lowercase().starts_with("urn:") => (Some(word[..i].to_owned()), &word[i + 1..]),
        _ => (None, word),
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default().to_owned();
    let sub = parts.next().map(str::to_owned);
    let valid = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(&name) || sub.as_deref().is_some_and(|s| !valid(s)) || parts.next().is_some() {
        return Err(format!("invalid attribute path {word:?}"));
    }
    Ok(AttrPath { urn, name, sub })
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

pub fn parse(input: &str) -> Result<Filter, String> {
    if input.len() > MAX_FILTER_LEN {
        return Err(format!("the filter is longer than {MAX_FILTER_LEN} characters"));
    }
    let mut parser = Parser { tokens: tokenize(input)?, pos: 0, depth: 0 };
    let filter = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err("unexpected text after the filter".into());
    }
    Ok(filter)
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn nest(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(format!("the filter nests deeper than {MAX_DEPTH} levels")) } else { Ok(()) }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            self.nest()?;
            if self.tokens.get(self.pos) != Some(&Token::LParen) {
                return Err("'not' must be followed by '('".into());
            }
            let inner = self.atom()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Filter, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                self.nest()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.tokens.get(self.pos) != Some(&Token::RParen) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                self.pos += 1;
                let path = parse_attr_path(&word)?;
                if self.tokens.get(self.pos) == Some(&Token::LBracket) {
                    self.pos += 1;
                    self.nest()?;
                    let inner = self.or()?;
                    self.depth -= 1;
                    if self.tokens.get(self.pos) != Some(&Token::RBracket) {
                        return Err("missing ']'".into());
                    }
                    self.pos += 1;
                    return Ok(Filter::ValuePath(path, Box::new(inner)));
                }
                let op = self.peek_word().ok_or("an operator must follow the attribute")?;
                self.pos += 1;
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(path)),
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "co" => Op::Co,
                    "sw" => Op::Sw,
                    "ew" => Op::Ew,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(format!("unknown operator {other:?}")),
                };
                let value = match self.tokens.get(self.pos).cloned() {
                    Some(Token::Str(s)) => Value::String(s),
                    Some(Token::Num(n)) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
                    _ => return Err("a value must follow the operator".into()),
                };
                self.pos += 1;
                Ok(Filter::Compare(path, op, value))
            }
            _ => Err("expected an attribute, 'not' or '('".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::eval::{matches, mentions};
    use serde_json::json;

    fn user() -> Value {
        json!({"id": "7", "userName": "Bjensen", "active": true, "externalId": "Ext-1",
               "name": {"familyName": "Jensen", "givenName": "Barbara"},
               "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@home.org", "type": "home"}],
               "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}})
    }

    fn exact(key: &str) -> bool {
        matches!(key, "id" | "externalid")
    }

    #[test]
    fn the_grammar_table() {
        let u = user();
        for (filter, expected) in [
            (r#"userName eq "bjensen""#, true),
            (r#"USERNAME Eq "BJENSEN""#, true),
            (r#"name.familyName co "ens""#, true),
            (r#"userName sw "B""#, true),
            (r#"userName ew "sen""#, true),
            (r#"userName ne "bjensen""#, false),
            ("title pr", false),
            ("name pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2012-01-01T00:00:00Z""#, true),
            (r#"meta.lastModified le "2010-01-01T00:00:00Z""#, false),
            (r#"emails[type eq "work" and value co "@example.com"]"#, true),
            (r#"emails[type eq "work" and value co "@home.org"]"#, false),
            (r#"emails.value eq "babs@home.org""#, true),
            (r#"userName eq "x" or (active eq true and not (name.givenName eq "Anna"))"#, true),
            (r#"not (userName eq "bjensen")"#, false),
            (r#"externalId eq "ext-1""#, false),
            (r#"externalId eq "Ext-1""#, true),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, true),
            ("title eq null", true),
            ("active eq true", true),
        ] {
            let parsed = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
            assert_eq!(matches(&parsed, &u, exact), expected, "{filter}");
        }
    }

    #[test]
    fn invalid_filters_are_refused() {
        for bad in [
            "userName",
            "userName eq",
            r#"userName zz "x""#,
            "(userName pr",
            r#"emails[type eq "w""#,
            r#"userName eq "x" and"#,
            "1abc pr",
            "not userName pr",
            r#"userName eq "unterminated"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(21), ")".repeat(21));
        assert!(parse(&deep).is_err());
        assert!(parse(&format!("userName eq \"{}\"", "x".repeat(4100))).is_err());
        assert!(mentions(&parse(r#"password eq "x""#).expect("parses"), "password"));
    }
}
