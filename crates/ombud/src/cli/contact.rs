//! `ombud contact export|erase`: a person's data, as the API's
//! `/contacts/{id}/export` and `/erase` do (the same operations).

use clap::{Args, Subcommand};
use ombud_core::*;
use ombud_store::EraseOutcome;
use serde_json::json;

use super::{operations, print_json, tenant_by_slug};
use crate::app::open_store;
use crate::Config;

#[derive(Subcommand, Debug)]
pub enum ContactCommand {
    /// Print everything held about a contact, as one JSON document.
    Export(ContactArgs),
    /// Erase a contact: name, number and words go; complaints stay, without
    /// them. Cannot be undone.
    Erase(ContactArgs),
}

#[derive(Args, Debug)]
pub struct ContactArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// The contact's id (the API's `contact_id`).
    #[arg(long)]
    pub contact: String,
}

pub async fn run(command: ContactCommand, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let ops = operations(store.clone()).with_seal_key(config.seal_key()?);
    let acting = ombud_engine::Acting::cli();
    match command {
        ContactCommand::Export(args) => {
            let tenant = tenant_by_slug(store.as_ref(), &args.tenant).await?;
            let export = ops
                .export_contact(&acting, &tenant, &contact_id(&args)?)
                .await?;
            print_json(&serde_json::to_value(&export)?);
        }
        ContactCommand::Erase(args) => {
            let tenant = tenant_by_slug(store.as_ref(), &args.tenant).await?;
            let id = contact_id(&args)?;
            let out = match ops.erase_contact(&acting, &tenant.id, &id).await? {
                EraseOutcome::Erased(c) => json!({
                    "contact_id": id.to_string(),
                    "erased": true,
                    "messages": c.messages,
                    "complaints": c.complaints,
                }),
                EraseOutcome::Already => json!({"contact_id": id.to_string(), "erased": false}),
                EraseOutcome::NotFound => {
                    return Err(ombud_store::StoreError::NotFound("contact").into())
                }
            };
            print_json(&out);
        }
    }
    Ok(())
}

fn contact_id(args: &ContactArgs) -> Result<ContactId, ValidationError> {
    args.contact
        .parse()
        .map_err(|_| ValidationError::new("contact", "is not a contact id"))
}
