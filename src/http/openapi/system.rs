//! The routes outside the families: the session ticket, the probes, metrics and the API's own
//! description and browser.

use super::browser::ASSETS;
use super::spec::*;

pub fn family() -> Family {
    let mut ops = vec![
        get("/modulos/auth", "Enter a privileged session with a single-use ticket")
            .fields([text("_sr").doc("The single-use ticket from /api/remote/session")])
            .auth(Auth::Open)
            .answer(Answer::Redirect)
            .describe("Redirects (303) into the session; a used or expired ticket is 410, any other refusal 403.")
            .errors(&[303, 403, 410])
            .success_status(303),
        get("/health", "Liveness").input(Input::Nothing).auth(Auth::Open).answer(Answer::Json),
        get("/ready", "Readiness: the store answers").input(Input::Nothing).auth(Auth::Open).answer(Answer::Json),
        get("/metrics", "Prometheus metrics").input(Input::Nothing).auth(Auth::Metrics).answer(Answer::Metrics),
        get("/openapi.json", "This document").input(Input::Nothing).auth(Auth::Open).answer(Answer::Json),
        get("/docs", "Browse this document (Swagger UI)").input(Input::Nothing).auth(Auth::Open).answer(Answer::Html),
    ];
    ops.extend(ASSETS.iter().map(|asset| {
        get(asset.path, "An asset of the API browser")
            .input(Input::Nothing)
            .auth(Auth::Open)
            .answer(Answer::Bytes(asset.content_type))
    }));
    Family { tag: "System", description: "Sessions' entry, probes, metrics and this description.", ops }
}
