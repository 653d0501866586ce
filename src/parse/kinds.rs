//! The typed front matter of each kind of page, and of sections.
//!
//! Each kind is a serde struct that rejects unknown keys, so a typo (`titel:`) is an error with a
//! suggestion instead of a silently ignored value. The keys every page has are declared once, in
//! [`kind_front_matter!`], and split off into [`CommonFront`] after parsing.

use serde::{Deserialize, Serialize};

use crate::time::{DateTimeInput, LocalDate, LocalTime};
use crate::yaml::fact::{Fact, FactValue, OpenKey, OpenKeys};

/// What kind of pages a section holds; decides the schema and the default template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Page,
    News,
    Sprechstunde,
    Event,
    Project,
    AdventDoor,
    Newsletter,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::News => "news",
            Kind::Sprechstunde => "sprechstunde",
            Kind::Event => "event",
            Kind::Project => "project",
            Kind::AdventDoor => "advent_door",
            Kind::Newsletter => "newsletter",
        }
    }

    pub fn default_sort(self) -> SortBy {
        match self {
            Kind::Page | Kind::Project => SortBy::Weight,
            Kind::News => SortBy::Date,
            Kind::Event => SortBy::DateAsc,
            Kind::Sprechstunde | Kind::Newsletter => SortBy::Number,
            Kind::AdventDoor => SortBy::Day,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Newest first.
    Date,
    /// Oldest first (upcoming events).
    DateAsc,
    Weight,
    Title,
    /// Highest number first (latest Sprechstunde, latest edition).
    Number,
    Day,
}

/// A file offered for download, as written in front matter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// Relative to the page bundle's folder, or `/…` from `static/`.
    pub file: String,
    pub title: String,
    /// The file itself meets the accessibility requirements (a PDF checked with PAC, say). A
    /// PDF or office file without this or `alternative` is listed as a known barrier in the
    /// accessibility statement.
    #[serde(default)]
    pub accessible: bool,
    /// Where the same content is offered accessibly: `@/page.md` (the page's own text, say),
    /// `/path/` or `https://…`. Resolved like every link of the front matter.
    #[serde(default)]
    pub alternative: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub organisation: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPerson {
    #[serde(default)]
    pub name: Option<Fact<String>>,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub email: Option<Fact<String>>,
    #[serde(default)]
    pub phone: Option<Fact<String>>,
}

/// As templates see it: the fields, and `open` with the keys that are open (`open.phone`).
impl Serialize for ContactPerson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            name: &'a Option<Fact<String>>,
            organisation: &'a Option<String>,
            email: &'a Option<Fact<String>>,
            phone: &'a Option<Fact<String>>,
            open: serde_json::Map<String, serde_json::Value>,
        }
        let mut keys = OpenKeys::default();
        self.open_keys("", &mut keys);
        View {
            name: &self.name,
            organisation: &self.organisation,
            email: &self.email,
            phone: &self.phone,
            open: crate::yaml::fact::open_map(&keys.0),
        }
        .serialize(s)
    }
}

impl ContactPerson {
    /// Keys as `{prefix}.name`, or bare `name` with an empty prefix.
    fn open_keys<'a>(&'a self, prefix: &str, keys: &mut OpenKeys<'a>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        keys.optional(&key("name"), &self.name)
            .optional(&key("email"), &self.email)
            .optional(&key("phone"), &self.phone);
    }
}

/// A link with its text; `url` may be `@/path.md`, `/path/`, or absolute.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRef {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    pub name: Fact<String>,
    #[serde(default)]
    pub street: Option<Fact<String>>,
    #[serde(default)]
    pub postal_code: Option<Fact<String>>,
    #[serde(default)]
    pub city: Option<Fact<String>>,
}

/// `venue: offen` while the whole place is open, or a mapping whose parts may be open.
impl FactValue for Venue {
    const EXPECTING: &'static str =
        "a venue `{name: …, street: …, postal_code: …, city: …}`, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "`{text}` is not a venue; write it as `{{name: …, city: …}}`, or `offen` while it is not known"
        ))
    }

    fn from_map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        crate::yaml::fact::from_map(map)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Greeting {
    pub text: String,
    pub author: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub photo: Option<String>,
}

/// The keys every page has, whatever its kind.
#[derive(Debug, Clone)]
pub struct CommonFront {
    pub title: String,
    pub description: Option<String>,
    pub publish: Option<DateTimeInput>,
    pub draft: bool,
    pub slug: Option<String>,
    pub template: Option<String>,
    pub weight: i64,
    pub updated: Option<LocalDate>,
    pub downloads: Vec<FileRef>,
    pub video: Option<VideoRef>,
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub ignore_checks: Vec<IgnoredCheck>,
    /// Earlier or printed addresses that redirect here (`/alte/adresse/`), as written; checked
    /// and normalised by [`crate::site::aliases`].
    pub aliases: Vec<String>,
    /// The topics of `site.yaml` the page is about (`themen: [gdst, zsa]`), as written, each at
    /// its place in the file; checked against the declared ones by the site model.
    pub themen: Vec<crate::yaml::located::Located>,
}

/// An accessibility check (`ozg-site check`) switched off for one file, with the reason why.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoredCheck {
    pub check: String,
    pub reason: String,
}

/// Declares a kind: its own keys plus the common ones, in one flat, strict YAML mapping.
macro_rules! kind_front_matter {
    ($(#[$doc:meta])* $raw:ident => $kind:ident { $( $(#[$attr:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize)]
        pub struct $kind { $( pub $field: $ty, )* }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $raw {
            title: String,
            #[serde(default)]
            description: Option<String>,
            #[serde(default)]
            publish: Option<DateTimeInput>,
            #[serde(default)]
            draft: bool,
            #[serde(default)]
            slug: Option<String>,
            #[serde(default)]
            template: Option<String>,
            #[serde(default)]
            weight: i64,
            #[serde(default)]
            updated: Option<LocalDate>,
            #[serde(default)]
            downloads: Vec<FileRef>,
            #[serde(default)]
            video: Option<VideoRef>,
            #[serde(default)]
            extra: serde_json::Map<String, serde_json::Value>,
            #[serde(default)]
            ignore_checks: Vec<IgnoredCheck>,
            #[serde(default)]
            aliases: Vec<String>,
            #[serde(default)]
            themen: Vec<crate::yaml::located::Located>,
            $( $(#[$attr])* $field: $ty, )*
        }

        impl $raw {
            fn split(self) -> (CommonFront, $kind) {
                (
                    CommonFront {
                        title: self.title,
                        description: self.description,
                        publish: self.publish,
                        draft: self.draft,
                        slug: self.slug,
                        template: self.template,
                        weight: self.weight,
                        updated: self.updated,
                        downloads: self.downloads,
                        video: self.video,
                        extra: self.extra,
                        ignore_checks: self.ignore_checks,
                        aliases: self.aliases,
                        themen: self.themen,
                    },
                    $kind { $( $field: self.$field, )* },
                )
            }
        }
    };
}

kind_front_matter!(
    /// A plain page (Impressum, Kontakt, …): only the common keys.
    RawPage => PageFields {}
);

kind_front_matter!(
    /// A news item ("Aktuelles").
    RawNews => NewsFields {
        date: LocalDate,
        #[serde(default)]
        author: Option<String>,
    }
);

kind_front_matter!(
    /// One OZG-Sprechstunde (online consultation).
    RawSprechstunde => SprechstundeFields {
        number: u32,
        date: LocalDate,
        start: Fact<LocalTime>,
        end: Fact<LocalTime>,
        #[serde(default)]
        location: Option<Fact<String>>,
        #[serde(default)]
        speakers: Vec<Person>,
        #[serde(default)]
        agenda: Vec<String>,
        #[serde(default)]
        slides: Vec<FileRef>,
        #[serde(default)]
        registration: Option<Fact<String>>,
        #[serde(default)]
        contact: Option<ContactPerson>,
        /// Called off: the page says so, the calendars mark it, and those invited get a
        /// cancellation.
        #[serde(default)]
        cancelled: bool,
        /// When the invitation goes out, instead of the section's `invitation.days_before`.
        #[serde(default)]
        invite_at: Option<DateTimeInput>,
    }
);

kind_front_matter!(
    /// An event with a venue (roadshow, workshop).
    RawEvent => EventFields {
        date: LocalDate,
        start: Fact<LocalTime>,
        end: Fact<LocalTime>,
        venue: Fact<Venue>,
        #[serde(default)]
        target_group: Option<String>,
        #[serde(default)]
        max_participants: Option<Fact<u32>>,
        #[serde(default)]
        registration: Option<Fact<String>>,
        #[serde(default)]
        registration_deadline: Option<Fact<LocalDate>>,
        #[serde(default)]
        organiser: Option<String>,
    }
);

kind_front_matter!(
    /// A project page (GDST, ZSA, Digital-Lotsen).
    RawProject => ProjectFields {
        #[serde(default)]
        short_name: Option<String>,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        figures: Vec<Figure>,
        #[serde(default)]
        contact: Option<ContactPerson>,
        #[serde(default)]
        links: Vec<LinkRef>,
    }
);

kind_front_matter!(
    /// A door of an advent calendar; it opens at its section's `advent.opens_at` on its day.
    RawAdventDoor => AdventDoorFields {
        day: u8,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        link: Option<LinkRef>,
    }
);

kind_front_matter!(
    /// A newsletter edition; its `##` sections are the articles.
    RawNewsletter => NewsletterFields {
        number: u32,
        date: LocalDate,
        subject: String,
        preheader: String,
        #[serde(default)]
        greeting: Option<Greeting>,
        #[serde(default)]
        next_issue: Vec<String>,
        /// When `newsletter send --due` sends it (never before its web version is published).
        #[serde(default)]
        send_at: Option<DateTimeInput>,
        /// The list it is sent to (`newsletter.lists`); `None`: `newsletter`.
        #[serde(default)]
        list: Option<String>,
    }
);

/// The kind-specific part of a page.
// The kinds with many keys are boxed: a site of 25,000 plain pages would otherwise carry the
// 488 bytes of the largest kind in every page (a tenth of the build's memory).
#[derive(Debug, Clone)]
pub enum KindFields {
    Page(PageFields),
    News(NewsFields),
    Sprechstunde(Box<SprechstundeFields>),
    Event(Box<EventFields>),
    Project(Box<ProjectFields>),
    AdventDoor(AdventDoorFields),
    Newsletter(Box<NewsletterFields>),
}

impl KindFields {
    pub fn kind(&self) -> Kind {
        match self {
            KindFields::Page(_) => Kind::Page,
            KindFields::News(_) => Kind::News,
            KindFields::Sprechstunde(_) => Kind::Sprechstunde,
            KindFields::Event(_) => Kind::Event,
            KindFields::Project(_) => Kind::Project,
            KindFields::AdventDoor(_) => Kind::AdventDoor,
            KindFields::Newsletter(_) => Kind::Newsletter,
        }
    }

    /// The date lists and feeds sort by, if the kind has one.
    pub fn date(&self) -> Option<LocalDate> {
        match self {
            KindFields::News(f) => Some(f.date),
            KindFields::Sprechstunde(f) => Some(f.date),
            KindFields::Event(f) => Some(f.date),
            KindFields::Newsletter(f) => Some(f.date),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<u32> {
        match self {
            KindFields::Sprechstunde(f) => Some(f.number),
            KindFields::Newsletter(f) => Some(f.number),
            KindFields::AdventDoor(f) => Some(f.day.into()),
            _ => None,
        }
    }

    /// Every front matter field that holds a link, for resolution of `@/` paths.
    pub fn links_mut(&mut self) -> Vec<(&'static str, &mut String)> {
        match self {
            KindFields::Sprechstunde(f) => f
                .registration
                .iter_mut()
                .filter_map(Fact::known_mut)
                .map(|u| ("registration", u))
                .collect(),
            KindFields::Event(f) => f
                .registration
                .iter_mut()
                .filter_map(Fact::known_mut)
                .map(|u| ("registration", u))
                .collect(),
            KindFields::Project(f) => f.links.iter_mut().map(|l| ("links", &mut l.url)).collect(),
            KindFields::AdventDoor(f) => f.link.iter_mut().map(|l| ("link", &mut l.url)).collect(),
            _ => Vec::new(),
        }
    }

    /// The start and end time of a Sprechstunde or an event, known or open.
    pub fn times(&self) -> Option<(&Fact<LocalTime>, &Fact<LocalTime>)> {
        match self {
            KindFields::Sprechstunde(f) => Some((&f.start, &f.end)),
            KindFields::Event(f) => Some((&f.start, &f.end)),
            _ => None,
        }
    }

    /// Every fact the editor left open (`offen`), by key path as written (`start`, `venue.city`).
    pub fn open_facts(&self) -> Vec<OpenKey<'_>> {
        let mut keys = OpenKeys::default();
        match self {
            KindFields::Sprechstunde(f) => {
                keys.fact("start", &f.start)
                    .fact("end", &f.end)
                    .optional("location", &f.location)
                    .optional("registration", &f.registration);
                if let Some(c) = &f.contact {
                    c.open_keys("contact", &mut keys);
                }
            }
            KindFields::Event(f) => {
                keys.fact("start", &f.start)
                    .fact("end", &f.end)
                    .fact("venue", &f.venue);
                if let Fact::Known(v) = &f.venue {
                    keys.fact("venue.name", &v.name)
                        .optional("venue.street", &v.street)
                        .optional("venue.postal_code", &v.postal_code)
                        .optional("venue.city", &v.city);
                }
                keys.optional("max_participants", &f.max_participants)
                    .optional("registration", &f.registration)
                    .optional("registration_deadline", &f.registration_deadline);
            }
            KindFields::Project(f) => {
                if let Some(c) = &f.contact {
                    c.open_keys("contact", &mut keys);
                }
            }
            _ => {}
        }
        keys.0
    }

    /// Kind-specific files to offer (Sprechstunde slides), besides the common `downloads`.
    pub fn files(&self) -> &[FileRef] {
        match self {
            KindFields::Sprechstunde(f) => &f.slides,
            _ => &[],
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            KindFields::Page(f) => serde_json::to_value(f),
            KindFields::News(f) => serde_json::to_value(f),
            KindFields::Sprechstunde(f) => serde_json::to_value(f),
            KindFields::Event(f) => serde_json::to_value(f),
            KindFields::Project(f) => serde_json::to_value(f),
            KindFields::AdventDoor(f) => serde_json::to_value(f),
            KindFields::Newsletter(f) => serde_json::to_value(f),
        };
        // Plain data structs always serialise; an empty object is the honest fallback.
        v.unwrap_or_default()
    }
}

/// Parses the front matter of a page of `kind`.
pub fn parse_page_front(
    source: &crate::yaml::YamlSource<'_>,
    kind: Kind,
) -> Result<(CommonFront, KindFields), crate::diagnostics::Diagnostic> {
    let what = &match kind {
        Kind::Page => "the front matter of a page".to_string(),
        Kind::AdventDoor => "the front matter of an advent door".to_string(),
        Kind::Newsletter => "the front matter of a newsletter edition".to_string(),
        other => format!("the front matter of a {} page", other.name()),
    };
    Ok(match kind {
        Kind::Page => {
            let (c, f) = source.parse::<RawPage>(what)?.split();
            (c, KindFields::Page(f))
        }
        Kind::News => {
            let (c, f) = source.parse::<RawNews>(what)?.split();
            (c, KindFields::News(f))
        }
        Kind::Sprechstunde => {
            let (c, f) = source.parse::<RawSprechstunde>(what)?.split();
            (c, KindFields::Sprechstunde(Box::new(f)))
        }
        Kind::Event => {
            let (c, f) = source.parse::<RawEvent>(what)?.split();
            (c, KindFields::Event(Box::new(f)))
        }
        Kind::Project => {
            let (c, f) = source.parse::<RawProject>(what)?.split();
            (c, KindFields::Project(Box::new(f)))
        }
        Kind::AdventDoor => {
            let (c, f) = source.parse::<RawAdventDoor>(what)?.split();
            (c, KindFields::AdventDoor(f))
        }
        Kind::Newsletter => {
            let (c, f) = source.parse::<RawNewsletter>(what)?.split();
            (c, KindFields::Newsletter(Box::new(f)))
        }
    })
}

/// Settings of an advent calendar section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdventSettings {
    pub year: i16,
    #[serde(default = "noon")]
    pub opens_at: LocalTime,
    #[serde(default = "twenty_four")]
    pub days: u8,
}

fn noon() -> LocalTime {
    LocalTime(jiff::civil::Time::new(12, 0, 0, 0).unwrap_or_default())
}

fn twenty_four() -> u8 {
    24
}

/// iCalendar output of a section of Sprechstunden or events.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// File name of the section's calendar, e.g. `kalender.ics` → `/sprechstunden/kalender.ics`.
    pub file: String,
    /// File name of each page's own calendar, e.g. `termin.ics` → `/sprechstunden/69-…/termin.ics`.
    pub event_file: String,
    /// Calendar name shown in the reader's calendar app (default: section and site title).
    #[serde(default)]
    pub name: Option<String>,
    /// Put before each event's title: `OZG-Sprechstunde` → "69. OZG-Sprechstunde: 2. GDST-Forum".
    #[serde(default)]
    pub event_prefix: Option<String>,
}

/// How a section's Sprechstunden are announced by mail: to which list, and when.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationSettings {
    /// The list of `newsletter.lists` the invitations go to.
    pub list: String,
    /// How many days before the Sprechstunde the invitation goes out (default 7).
    #[serde(default = "default_days_before")]
    pub days_before: u16,
    /// At what time of that day (default 09:00).
    #[serde(default = "default_invitation_time")]
    pub time: LocalTime,
    /// The subject of the first invitation; `{event}` is the calendar's title of the
    /// Sprechstunde ("70. OZG-Sprechstunde: Jahresrückblick 2025"), `{date}` its date (17.12.2025).
    #[serde(default = "default_invitation_subject")]
    pub subject: String,
    /// The subject when date, time or place changed.
    #[serde(default = "default_update_subject")]
    pub update_subject: String,
    /// The subject of a cancellation.
    #[serde(default = "default_cancel_subject")]
    pub cancel_subject: String,
}

fn default_invitation_subject() -> String {
    "Terminanfrage: {event} am {date}".into()
}

fn default_update_subject() -> String {
    "Geänderter Termin: {event} am {date}".into()
}

fn default_cancel_subject() -> String {
    "Abgesagt: {event} am {date}".into()
}

fn default_days_before() -> u16 {
    7
}

fn default_invitation_time() -> LocalTime {
    LocalTime(jiff::civil::time(9, 0, 0, 0))
}

/// A video offered on a page (e.g. the Gebärdensprache page), with its facts for the link label.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VideoRef {
    /// Like `downloads`: relative to the page bundle, or `/…` from `static/`.
    pub file: String,
    pub title: String,
    /// Playing time as `M:SS` or `H:MM:SS`.
    pub duration: String,
    /// WebVTT captions file (same rules as `file`).
    #[serde(default)]
    pub captions: Option<String>,
    /// Still image shown before playing.
    #[serde(default)]
    pub poster: Option<String>,
}

/// The front matter of a section's `_index.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionFront {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Kind of the pages in this section; inherited from the parent when absent.
    #[serde(default)]
    pub kind: Option<Kind>,
    #[serde(default)]
    pub sort_by: Option<SortBy>,
    #[serde(default)]
    pub paginate_by: Option<usize>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub page_template: Option<String>,
    #[serde(default)]
    pub feed: bool,
    #[serde(default)]
    pub weight: i64,
    #[serde(default)]
    pub advent: Option<AdventSettings>,
    #[serde(default)]
    pub calendar: Option<CalendarSettings>,
    /// Invitations by mail to the section's Sprechstunden (`newsletter invite`).
    #[serde(default)]
    pub invitation: Option<InvitationSettings>,
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub ignore_checks: Vec<IgnoredCheck>,
    /// Earlier or printed addresses that redirect to the section, as for pages.
    #[serde(default)]
    pub aliases: Vec<String>,
}
