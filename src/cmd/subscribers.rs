//! `ozg-site subscribers …`: the newsletter's subscribers in the SQLite database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ozg_site::config::DEFAULT_LIST;
use ozg_site::diagnostics::{Diagnostic, Diagnostics};
use ozg_site::error::Failure;
use ozg_site::newsletter::address::{Email, clean_name, printable};
use ozg_site::newsletter::store::subscribers::Source;
use ozg_site::newsletter::store::{Added, Membership, Store, Subscriber, SubscriberStatus};
use ozg_site::newsletter::subscribers;

use super::Outcome;

/// The newsletter's subscribers (kept in SQLite, never in the site or the repository).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The site folder, which holds site.yaml
    #[arg(long, default_value = ".", global = true)]
    root: PathBuf,
    /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// The list (an id of `newsletter.lists` in site.yaml): `import` and `add` add to it
    /// [default: newsletter]; `remove` ends only it [default: every list]; `list`, `count` and
    /// `export` show only its members [default: everybody]
    #[arg(long, global = true)]
    list: Option<String>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Add the addresses of a CSV file (header row with `email`, optional `name` and `status`;
    /// `;` or `,`). Addresses that unsubscribed or were forgotten are never added again, nor rows
    /// whose `status` is not `active` (an export read back in); known addresses stay as they are
    /// (unconfirmed sign-ups unconfirmed, names unchanged). Rows with a value that cannot be sent
    /// are reported with line and column and left out; the exit code is then 1.
    Import { file: PathBuf },
    /// Add one address whose owner agreed to receive the newsletter (outside the sign-up form);
    /// with --name for an active subscriber, correct their name
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Unsubscribe an address: it receives nothing more; its consent record and sent editions
    /// are kept as proof. With --forget, delete everything about it instead.
    Remove {
        email: String,
        /// Delete every trace of the address (GDPR Art. 17): subscriber, consent record, links,
        /// send journal. Only a keyed hash stays, so no import adds it again.
        #[arg(long)]
        forget: bool,
    },
    /// Print every subscriber (address, status, name), tab-separated
    List,
    /// Print everything stored about one address: status, consent record, editions sent (for a
    /// request under GDPR Art. 15)
    Show { email: String },
    /// Write every subscriber with their consent record to a CSV file (UTF-8 for Excel)
    Export { file: PathBuf },
    /// Print the number of subscribers who receive the newsletter
    Count,
}

pub fn run(args: Args) -> Outcome {
    let config = ozg_site::config::Config::load(&args.root, None)?;
    let newsletter = config.site.newsletter.as_ref();
    let path =
        ozg_site::newsletter::send::database_path(&args.root, newsletter, args.db.as_deref());
    let unsubscribe_link = newsletter
        .map(|n| n.unsubscribe_link.clone())
        .filter(|l| !l.is_empty());
    let declared = newsletter.map_or_else(|| vec![DEFAULT_LIST.to_string()], |n| n.list_ids());
    let list = match args.list {
        Some(l) if !declared.contains(&l) => {
            return Err(Diagnostic::error(format!("there is no list `{l}`"))
                .hint(format!(
                    "the lists of `newsletter.lists` in site.yaml are: {}",
                    declared.join(", ")
                ))
                .into());
        }
        l => l,
    };
    let to = list.as_deref().unwrap_or(DEFAULT_LIST);
    let mut store = Store::open(&path)?;
    match args.command {
        Command::Import { file } => import(&mut store, &file, to)?,
        Command::Add { email, name } => add(&mut store, &email, name.as_deref(), to)?,
        Command::Remove { email, forget } => remove(&mut store, &email, forget, list.as_deref())?,
        Command::List => {
            let people = match &list {
                Some(l) => store.list_of(l)?,
                None => store.list()?,
            };
            // Rows from older versions or edited by hand may hold escape sequences: never raw.
            for s in people {
                let status = match list.as_deref().and_then(|l| s.membership(l)) {
                    Some(m) => m.status,
                    None => s.status,
                };
                println!(
                    "{}\t{}\t{}",
                    printable(&s.email),
                    status.as_str(),
                    printable(s.name.as_deref().unwrap_or_default())
                );
            }
        }
        Command::Show { email } => show(&mut store, &email, unsubscribe_link.as_deref())?,
        Command::Export { file } => {
            let people = match &list {
                Some(l) => store.list_of(l)?,
                None => store.list()?,
            };
            subscribers::write_csv(&file, &people)?;
            println!("{} subscribers written to {}", people.len(), file.display());
        }
        Command::Count => println!("{}", store.count(list.as_deref())?),
    }
    Ok(ExitCode::SUCCESS)
}

fn import(store: &mut Store, file: &Path, list: &str) -> Result<(), Failure> {
    let parsed = subscribers::read_csv(file)?;
    let imported = store.add_all(&parsed.valid, Source::Import, list)?;
    for (email, why) in &imported.refused {
        eprintln!("skipped {email}: {}", refusal(why));
    }
    println!(
        "{} added, {} already there, {} not added again (unsubscribed or forgotten), {} invalid, {} not active in the file; {} subscribers in all.",
        imported.added,
        imported.already_there,
        imported.refused.len(),
        parsed.invalid.len(),
        parsed.not_active,
        store.count(Some(list))?
    );
    if imported.not_confirmed > 0 {
        println!(
            "{} already signed up but not confirmed: left unchanged (only the link in their confirmation mail activates them).",
            imported.not_confirmed
        );
    }
    if parsed.invalid.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics::from(parsed.invalid).into())
    }
}

fn add(store: &mut Store, email: &str, name: Option<&str>, list: &str) -> Result<(), Failure> {
    let email = Email::parse(email).map_err(|why| {
        Diagnostic::error(why.reason(email))
            .hint("write the address like erika.mustermann@example.org")
    })?;
    let name = match name.map(clean_name) {
        None => None,
        Some(Ok(name)) => name,
        Some(Err(why)) => {
            return Err(Diagnostic::error(format!("--name: {}", why.reason()))
                .hint("give the name on one line, at most 100 characters, e.g. --name \"Erika Mustermann\"")
                .into());
        }
    };
    match store.add(email.as_str(), name.as_deref(), Source::Cli, list)? {
        Added::Added => println!("added {email}"),
        Added::AlreadyThere | Added::Renamed(None) => println!("{email} is subscribed"),
        Added::Renamed(Some(name)) => println!("{email} is subscribed; its name is now {name}"),
        Added::NotConfirmed => {
            return Err(Diagnostic::error(format!(
                "{email} is not added: it signed up through the form and has not confirmed yet; it is left unchanged"
            ))
            .hint("it becomes a subscriber when its owner clicks the link in the confirmation mail; nothing else activates it")
            .into());
        }
        why => {
            return Err(Diagnostic::error(format!(
                "{email} is not added again: {}",
                refusal(&why)
            ))
            .hint(
                "only its owner can subscribe again, through the sign-up form (with double opt-in)",
            )
            .into());
        }
    }
    Ok(())
}

fn remove(store: &mut Store, email: &str, forget: bool, list: Option<&str>) -> Result<(), Failure> {
    if forget {
        let had_data = store.forget(email)?;
        let email = printable(email);
        if had_data {
            println!(
                "forgot {email}: every record of it is deleted; a keyed hash keeps it from being imported again"
            );
        } else {
            println!("nothing was stored about {email}; a keyed hash keeps it from being imported");
        }
        return Ok(());
    }
    if store.unsubscribe_address(email, list)? {
        let from = list.map(|l| format!(" from `{l}`")).unwrap_or_default();
        println!(
            "unsubscribed {}{from} (its consent record stays; `remove --forget` deletes it)",
            printable(email)
        );
        return Ok(());
    }
    let known = store.find(email)?.is_some();
    let email = printable(email);
    Err(Diagnostic::error(match (known, list) {
        (true, Some(l)) => format!("{email} does not receive `{l}`"),
        (true, None) => format!("{email} is unsubscribed already"),
        (false, Some(l)) => format!("{email} is not subscribed to `{l}`"),
        (false, None) => format!("{email} is not subscribed"),
    })
    .hint("`ozg-site subscribers list` shows every address")
    .into())
}

fn show(store: &mut Store, email: &str, unsubscribe_link: Option<&str>) -> Result<(), Failure> {
    let Some(s) = store.find(email)? else {
        let forgotten = store.is_forgotten(email)?;
        let email = printable(email);
        return Err(Diagnostic::error(if forgotten {
            format!("nothing is stored about {email} but a keyed hash: it was forgotten")
        } else {
            format!("nothing is stored about {email}")
        })
        .into());
    };
    for (key, value) in Subscriber::RECORD.iter().zip(s.record()) {
        println!("{key}\t{}", printable(&value));
    }
    // Each list with its own consent record: `list.sprechstunden.confirmed_at`, ….
    for m in &s.lists {
        for (key, value) in Membership::RECORD.iter().zip(m.record()).skip(1) {
            println!("list.{}.{key}\t{}", m.list, printable(&value));
        }
    }
    // Not stored (the database keeps only its hash), but what support needs when a reader
    // cannot find the link in their mails.
    if s.status == SubscriberStatus::Active
        && let Some(link) = unsubscribe_link
    {
        let token = store.register_unsubscribe_link(&s)?;
        println!("unsubscribe_link\t{}", link.replace("{token}", &token));
    }
    for (what, state, at) in store.deliveries_of(s.id)? {
        println!("{}\t{state}\t{}", printable(&what), at.unwrap_or_default());
    }
    if let Some((at, why)) = store.bounced(s.id)? {
        println!("bounced\t{at}\t{}", printable(&why));
    }
    for b in store.bounces_of(s.id)? {
        println!(
            "bounce\t{}\t{} {}\t{}\t{}",
            b.edition
                .map(|n| format!("edition {n}"))
                .unwrap_or_default(),
            b.kind,
            b.status.as_deref().map(printable).unwrap_or_default(),
            b.received_at,
            b.diagnostic.as_deref().map(printable).unwrap_or_default()
        );
    }
    Ok(())
}

/// Why the store refused to add an address, as the end of a sentence.
fn refusal(why: &Added) -> String {
    match why {
        Added::Unsubscribed(at) => format!("it unsubscribed on {at}"),
        Added::Forgotten => "its owner asked for its data to be deleted".to_string(),
        Added::NotConfirmed => {
            "it signed up through the form and has not confirmed yet".to_string()
        }
        Added::Added | Added::AlreadyThere | Added::Renamed(_) => String::new(),
    }
}
