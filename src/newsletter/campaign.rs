//! What an invitation's mail is besides an edition: its version and calendar, kept apart from
//! [`super::invitation`] (which renders it) so that [`super::email::Edition`] can carry it.

use crate::render::calendar::ItipCalendar;

/// One version of an invitation, rendered: what the journal records and the calendar each
/// recipient gets.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub uid: String,
    pub sequence: u32,
    pub kind: Kind,
    /// What the version says (see [`super::invitation::facts`]); a change starts the next
    /// version.
    pub facts: String,
    pub calendar: ItipCalendar,
}

/// What a version tells its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first invitation.
    First,
    /// Date, time or place changed since an earlier version.
    Update,
    /// The Sprechstunde is called off.
    Cancel,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::First => "first",
            Kind::Update => "update",
            Kind::Cancel => "cancel",
        }
    }
}
