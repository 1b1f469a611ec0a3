//! `cofre dsm run` and `cofre dsm exec`: the pipeline flow of §10.4 against a cofre server —
//! token, register the application, re-login with the returned id/signature, optionally post
//! the mapped variables, fetch the secrets — then write them in a CI tool's syntax, or run a
//! command with them in its environment. Secret values never reach this program's output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use serde_json::Value;
use zeroize::Zeroizing;

use super::CliResult;

#[derive(Args)]
pub struct Connection {
    /// The cofre (or senhasegura) URL.
    #[arg(long, env = "SENHASEGURA_URL")]
    pub url: String,
    #[arg(long, env = "SENHASEGURA_CLIENT_ID", hide_env_values = true)]
    pub client_id: String,
    #[arg(long, env = "SENHASEGURA_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,
    #[arg(long, env = "SENHASEGURA_APPLICATION")]
    pub application: String,
    #[arg(long, env = "SENHASEGURA_SYSTEM")]
    pub system: String,
    #[arg(long, env = "SENHASEGURA_ENVIRONMENT")]
    pub environment: String,
    /// Trust this CA certificate (PEM) in addition to the system's.
    #[arg(long, env = "SENHASEGURA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// A mapping file: post these variables of the current environment first (§10.4).
    #[arg(long, env = "SENHASEGURA_MAPPING_FILE")]
    pub map_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Tool {
    Github,
    Gitlab,
    AzureDevops,
    Bamboo,
    Bitbucket,
    Circleci,
    Teamcity,
    Linux,
}

/// `+`→`-`, `/`→`_`, `=`→`,`: the base64 variant the variables endpoint documents.
fn variant_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('+', "-").replace('/', "_").replace('=', ",")
}

/// The envelope's error flags, or the gateway's top-level error, abort the run.
fn check(body: &Value, step: &str) -> Result<(), String> {
    let top_error = body.get("error").and_then(Value::as_str).is_some_and(|e| !e.is_empty());
    if top_error || body["response"]["error"] == Value::Bool(true) {
        let message = body["response"]["message"].as_str().or(body["error_description"].as_str()).unwrap_or("failed");
        return Err(format!("{step}: {message}"));
    }
    Ok(())
}

async fn token(client: &reqwest::Client, url: &str, id: &str, secret: &str) -> Result<Zeroizing<String>, String> {
    let response = client
        .post(format!("{url}/iso/oauth2/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .map_err(|e| format!("token request failed: {e}"))?;
    let body: Value = response.json().await.map_err(|e| format!("token response unreadable: {e}"))?;
    match body["access_token"].as_str().filter(|t| !t.is_empty()) {
        Some(t) => Ok(Zeroizing::new(t.to_owned())),
        None => Err(format!("authentication failed: {}", body["error"].as_str().unwrap_or("no access token"))),
    }
}

/// Runs the flow and returns every variable (later maps win on repeated names).
pub async fn fetch(c: &Connection) -> Result<BTreeMap<String, Zeroizing<String>>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().tls_built_in_native_certs(true);
    if let Some(path) = &c.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?,
        );
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let url = c.url.trim_end_matches('/');
    let first = token(&client, url, &c.client_id, &c.client_secret).await?;
    let registered: Value = client
        .post(format!("{url}/iso/dapp/Application"))
        .bearer_auth(first.as_str())
        .form(&[
            ("application", c.application.as_str()),
            ("system", c.system.as_str()),
            ("environment", c.environment.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("register failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("register response unreadable: {e}"))?;
    check(&registered, "register")?;
    let (Some(id), Some(signature)) = (registered["id"].as_str(), registered["signature"].as_str()) else {
        return Err("register: no id/signature in the answer".into());
    };
    let signature = Zeroizing::new(signature.to_owned());
    let second = token(&client, url, id, &signature).await?;
    if let Some(path) = &c.map_file {
        let map = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let env = Zeroizing::new(std::env::vars().map(|(k, v)| format!("{k}={v}\n")).collect::<String>());
        let posted: Value = client
            .post(format!("{url}/iso/cicd/variables"))
            .bearer_auth(second.as_str())
            .form(&[("env", variant_base64(env.as_bytes())), ("map", variant_base64(&map))])
            .send()
            .await
            .map_err(|e| format!("variables failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("variables response unreadable: {e}"))?;
        check(&posted, "variables")?;
    }
    let app: Value = client
        .get(format!("{url}/iso/dapp/Application"))
        .bearer_auth(second.as_str())
        .send()
        .await
        .map_err(|e| format!("fetch failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("fetch response unreadable: {e}"))?;
    check(&app, "fetch")?;
    let mut vars = BTreeMap::new();
    for secret in app["application"]["secrets"].as_array().into_iter().flatten() {
        for map in secret["data"].as_array().into_iter().flatten() {
            for (k, v) in map.as_object().into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    vars.insert(k.clone(), Zeroizing::new(v.to_owned()));
                }
            }
        }
    }
    Ok(vars)
}

fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// One variable in `tool`'s syntax.
pub fn render(tool: Tool, name: &str, value: &str) -> String {
    match tool {
        Tool::Github => {
            let mut delimiter = [0u8; 8];
            crate::crypto::fill_random(&mut delimiter);
            let delimiter = format!("COFRE_EOF_{}", hex::encode(delimiter));
            format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
        }
        Tool::Gitlab => format!("{name}={}\n", value.replace('\\', "\\\\").replace('\n', "\\n")),
        Tool::AzureDevops => {
            let escaped = value
                .replace('%', "%AZP25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
                .replace(']', "%5D")
                .replace(';', "%3B");
            format!("##vso[task.setvariable variable={name};issecret=true]{escaped}\n")
        }
        Tool::Bamboo => {
            let escaped = value.replace('\\', "\\\\").replace('\n', "\\n").replace('=', "\\=").replace(':', "\\:");
            format!("{name}={escaped}\n")
        }
        Tool::Teamcity => {
            let escaped = value
                .replace('|', "||")
                .replace('\'', "|'")
                .replace('[', "|[")
                .replace(']', "|]")
                .replace('\n', "|n")
                .replace('\r', "|r");
            format!("##teamcity[setParameter name='env.{name}' value='{escaped}']\n")
        }
        Tool::Bitbucket | Tool::Circleci | Tool::Linux => format!("export {name}={}\n", single_quoted(value)),
    }
}

pub async fn run(c: Connection, tool: Tool, output: PathBuf) -> CliResult {
    let vars = fetch(&c).await?;
    let mut text = Zeroizing::new(String::new());
    let mut skipped = 0;
    for (name, value) in &vars {
        if valid_name(name) {
            text.push_str(&render(tool, name, value));
        } else {
            skipped += 1;
        }
    }
    write_private(&output, text.as_bytes())?;
    eprintln!(
        "cofre dsm: wrote {} variables to {} ({skipped} with unusable names skipped)",
        vars.len() - skipped,
        output.display()
    );
    Ok(())
}

pub async fn exec(c: Connection, command: Vec<String>) -> CliResult {
    let Some((program, args)) = command.split_first() else { return Err("give a command after --".into()) };
    let vars = fetch(&c).await?;
    let status = std::process::Command::new(program)
        .args(args)
        .envs(vars.iter().filter(|(k, _)| valid_name(k)).map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    drop(vars);
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_each_tool() {
        assert_eq!(render(Tool::Linux, "A", "it's"), "export A='it'\\''s'\n");
        assert_eq!(render(Tool::Teamcity, "A", "x'|[y]"), "##teamcity[setParameter name='env.A' value='x|'|||[y|]']\n");
        assert_eq!(
            render(Tool::AzureDevops, "A", "1;2]\n%"),
            "##vso[task.setvariable variable=A;issecret=true]1%3B2%5D%0A%AZP25\n"
        );
        assert_eq!(render(Tool::Bamboo, "A", "k=v:w"), "A=k\\=v\\:w\n");
        assert_eq!(render(Tool::Gitlab, "A", "l1\nl2"), "A=l1\\nl2\n");
        let github = render(Tool::Github, "A", "v");
        assert!(github.starts_with("A<<COFRE_EOF_") && github.contains("\nv\n"));
        assert!(!valid_name("1X") && !valid_name("A-B") && valid_name("_A1"));
    }
}
