//! `cofre user …` and `cofre group …`: the people who log in (sessions, MySafe, dynamic tokens).

use serde_json::json;

use super::run::{created_ids, print, secret_from_stdin};
use super::{CliResult, GroupCommand, UserCommand};
use crate::service::Core;
use crate::service::admin::users::{self, NewUser, UserChanges};

pub(super) async fn user(core: &Core, cmd: UserCommand) -> CliResult {
    match cmd {
        UserCommand::Create { username, name, email, password_stdin, groups } => {
            let password = if password_stdin { Some(secret_from_stdin()?) } else { None };
            let new = NewUser {
                username,
                display_name: name.unwrap_or_default(),
                email: email.unwrap_or_default(),
                password,
                groups,
            };
            let created = users::create_user(core, new).await?;
            created_ids(&[("user_id", created.id)]);
            println!("user {} created (id {})", created.username, created.id);
        }
        UserCommand::List { json } => {
            for u in users::list_users(core).await? {
                let line = json!({"id": u.id.to_string(), "username": u.username, "name": u.display_name,
                                  "email": u.email, "enabled": u.enabled, "groups": u.groups});
                print(json, &line, || {
                    format!(
                        "{}\t{}\t{}\t{}",
                        u.id,
                        u.username,
                        if u.enabled { "enabled" } else { "disabled" },
                        u.groups.join(",")
                    )
                });
            }
        }
        UserCommand::Password { username } => {
            let changes = UserChanges { password: Some(secret_from_stdin()?), ..UserChanges::default() };
            users::update_user(core, &username, changes).await?;
            println!("password of {username} changed");
        }
        UserCommand::Disable { username } => {
            users::update_user(core, &username, UserChanges { enabled: Some(false), ..UserChanges::default() }).await?;
            println!("user {username} disabled");
        }
        UserCommand::Enable { username } => {
            users::update_user(core, &username, UserChanges { enabled: Some(true), ..UserChanges::default() }).await?;
            println!("user {username} enabled");
        }
    }
    Ok(())
}

pub(super) async fn group(core: &Core, cmd: GroupCommand) -> CliResult {
    match cmd {
        GroupCommand::Create { name } => {
            let created = users::create_group(core, &name).await?;
            created_ids(&[("group_id", created.id)]);
            println!("group {} created (id {})", created.name, created.id);
        }
        GroupCommand::List { json } => {
            for g in users::list_groups(core).await? {
                let line = json!({"id": g.id.to_string(), "name": g.name, "members": g.members});
                print(json, &line, || format!("{}\t{}\t{}", g.id, g.name, g.members.join(",")));
            }
        }
        GroupCommand::Add { group, usernames } | GroupCommand::Remove { group, usernames } if usernames.is_empty() => {
            return Err(format!("name at least one user for group {group}").into());
        }
        GroupCommand::Add { group, usernames } => {
            for u in usernames {
                users::set_membership(core, &group, &u, true).await?;
                println!("{u} added to {group}");
            }
        }
        GroupCommand::Remove { group, usernames } => {
            for u in usernames {
                users::set_membership(core, &group, &u, false).await?;
                println!("{u} removed from {group}");
            }
        }
    }
    Ok(())
}
