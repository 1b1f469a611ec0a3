//! `cofre audit verify|checkpoint|export`: the audit chain, checked and handed on.

use std::io::Write;
use std::path::PathBuf;

use futures_util::StreamExt;

use super::CliResult;
use crate::service::Core;
use crate::service::integrity::chain::{self, Verdict};
use crate::service::integrity::export;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the most recent records, oldest first.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        #[arg(long)]
        json: bool,
    },
    /// Check the chain: every record against its MAC, the head and the checkpoint file. Names
    /// the first record that was altered, deleted, inserted or reordered.
    Verify {
        /// Start at this sequence number (its predecessor is trusted).
        #[arg(long, default_value_t = 1)]
        since: i64,
        /// Checkpoints to hold the trail to (default: audit_checkpoint_file, else
        /// audit.checkpoint in the data directory, where the server writes them).
        #[arg(long)]
        checkpoint_file: Option<std::path::PathBuf>,
    },
    /// Append the chain's head to the checkpoint file now (default as for verify).
    Checkpoint {
        #[arg(long)]
        checkpoint_file: Option<std::path::PathBuf>,
    },
    /// Print records from a sequence number on, one JSON object per line, with `seq` and `mac`.
    Export {
        #[arg(long, default_value_t = 1)]
        since: i64,
        /// jsonl (JSON lines) is the only format.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

pub async fn audit(core: &Core, command: AuditCommand) -> CliResult {
    match command {
        AuditCommand::Tail { .. } => Err("handled by audit_tail".into()),
        AuditCommand::Verify { since, checkpoint_file } => verify(core, since, checkpoint_file).await,
        AuditCommand::Checkpoint { checkpoint_file } => {
            let path = checkpoint_path(core, checkpoint_file);
            let c = chain::checkpoint(core, &path).await?;
            println!("checkpoint written to {}: record {} ({} records)", path.display(), c.seq, c.count);
            Ok(())
        }
        AuditCommand::Export { since, format } => {
            if format != "jsonl" {
                return Err(format!("--format {format}: only jsonl is supported").into());
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut rows = std::pin::pin!(core.store.chained_audit(since.max(1)));
            while let Some(row) = rows.next().await {
                writeln!(out, "{}", export::json_line(&row?))?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// `--checkpoint-file`, else `audit_checkpoint_file`, else the one in the data directory: the
/// file the server writes to.
fn checkpoint_path(core: &Core, flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| core.config.audit_checkpoint_path())
}

async fn verify(core: &Core, since: i64, checkpoint_file: Option<PathBuf>) -> CliResult {
    let path = checkpoint_path(core, checkpoint_file);
    let checkpoints = chain::read_checkpoints(&path)?;
    if checkpoints.is_empty() {
        eprintln!(
            "no checkpoints in {}: a trail cut short after its head was rewritten would not be caught (the server writes them there, or run cofre audit checkpoint)",
            path.display()
        );
    }
    match chain::verify(core, &core.audit_chain_key(), since, &checkpoints).await? {
        Verdict::Intact { from, to, count } => {
            println!(
                "audit trail intact: {count} records verified ({from} to {to}), {} checkpoints held",
                checkpoints.len()
            );
            Ok(())
        }
        Verdict::Broken { seq, problem } if seq < 1 => Err(format!("audit trail broken: {problem}").into()),
        Verdict::Broken { seq, problem } => Err(format!("audit trail broken at record {seq}: {problem}").into()),
    }
}
