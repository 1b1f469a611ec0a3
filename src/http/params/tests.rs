//! Unit tests of the parameter map: every encoding of a list, body over query, audit masking.

use super::*;

#[test]
fn urlencoded_values_decode_and_later_ones_win() {
    let mut p = Params::default();
    p.merge_urlencoded(b"a=1&b=x+y%21&a=2&empty=&flag").expect("valid");
    assert_eq!(p.text("a").expect("text"), Some("2".into()));
    assert_eq!(p.text("b").expect("text"), Some("x y!".into()));
    assert_eq!(p.text("empty").expect("text"), Some(String::new()));
    assert!(p.contains("flag"));
    assert!(p.merge_urlencoded(b"bad=%FF%FE").is_err());
}

#[test]
fn json_nulls_are_absent_and_types_are_checked() {
    let mut p = Params::default();
    merge_json(&mut p, br#"{"a":null,"n":5,"o":{"x":1},"l":["u1","u2"]}"#).expect("valid");
    assert!(!p.contains("a"));
    assert_eq!(p.text("n").expect("text"), Some("5".into()));
    assert!(p.text("o").is_err());
    assert_eq!(p.list_text("l").expect("list"), Some("u1,u2".into()));
    assert!(merge_json(&mut p, b"[1]").is_err());
    assert!(merge_json(&mut p, b"{\"a\":").is_err());
}

fn items(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn every_encoding_of_a_list_gives_every_item_and_scalars_the_last() {
    for form in [
        &b"san%5B%5D=a&san%5B%5D=b&san%5B%5D=c"[..],
        b"san[]=a&san[]=b&san[]=c",
        b"san=a&san=b&san=c",
        b"san[0]=a&san[1]=b&san%5B2%5D=c",
        b"san=a,+b,c",
        b"san=%5B%22a%22,%22b%22,%22c%22%5D",
    ] {
        let mut p = Params::default();
        p.merge_urlencoded(form).expect("valid");
        assert_eq!(p.list("san").expect("list"), items(&["a", "b", "c"]), "{}", String::from_utf8_lossy(form));
        assert_eq!(p.list_text("san").expect("list text").as_deref().map(|t| t.replace(' ', "")), Some("a,b,c".into()));
    }
    for json in [
        &br#"{"san[]":"a","san[]":"b","san[]":"c"}"#[..],
        br#"{"san":"a","san":"b","san":"c"}"#,
        br#"{"san[0]":"a","san[1]":"b","san[2]":"c"}"#,
        br#"{"san":"a,b,c"}"#,
        br#"{"san":["a","b","c"]}"#,
        br#"{"san[]":["a","b"],"san[]":"c"}"#,
    ] {
        let mut p = Params::default();
        merge_json(&mut p, json).expect("valid");
        assert_eq!(p.list("san").expect("list"), items(&["a", "b", "c"]), "{}", String::from_utf8_lossy(json));
    }
    // A repeated scalar reads as its last value, as it always did.
    let mut p = Params::default();
    merge_json(&mut p, br#"{"name":"first","name":"second","n[]":1,"n[]":2}"#).expect("valid");
    assert_eq!(p.text("name").expect("text"), Some("second".into()));
    assert_eq!(p.text("n").expect("text"), Some("2".into()));
    assert_eq!(p.list("n").expect("list"), items(&["1", "2"]));
    // A single plain string keeps its spacing; text that merely starts with `[` is text.
    let mut p = Params::default();
    p.merge_urlencoded(b"tags=windows,+lab&targets=%5B::1%5D:443&bad=%5B%7B%7D%5D&other%5Bkey%5D=x").expect("valid");
    assert_eq!(p.list_text("tags").expect("tags"), Some("windows, lab".into()));
    assert_eq!(p.list("targets").expect("targets"), items(&["[::1]:443"]));
    assert!(p.list("bad").is_err(), "a JSON array of objects is no list of strings");
    assert_eq!(p.text("other[key]").expect("text"), Some("x".into()), "only [] and [n] are list brackets");
    assert_eq!(p.list("absent").expect("absent"), None);
}

#[test]
fn the_body_replaces_the_query_per_name_and_nulls_clear() {
    let mut p = Params::default();
    p.merge_urlencoded(b"tags[]=q1&tags[]=q2&keep=query").expect("query");
    merge_json(&mut p, br#"{"tags":["b1"],"tags[]":"b2","gone":null}"#).expect("body");
    assert_eq!(p.list("tags").expect("tags"), items(&["b1", "b2"]));
    assert_eq!(p.text("keep").expect("keep"), Some("query".into()));
    merge_json(&mut p, br#"{"keep":null}"#).expect("body");
    assert!(!p.contains("keep") && !p.contains("gone"));
    assert_eq!(p.list("keep").expect("keep"), None);
}

#[test]
fn the_audit_view_masks_each_value_of_a_repeated_name() {
    let mut p = Params::default();
    p.merge_urlencoded(b"san[]=one.example&san[]=two.example&name=a&name=b&content=secret").expect("valid");
    let view = p.audit_view(|v| format!("hmac:{}", v.len()));
    assert_eq!(view["san"], serde_json::json!(["hmac:11", "hmac:11"]));
    assert_eq!(view["name"], serde_json::json!(["a", "b"]));
    assert_eq!(view["content"], "hmac:6");
    assert!(!view.to_string().contains("example") && !view.to_string().contains("secret"));
}
