use super::*;
use crate::newsletter::store::bounces::CampaignRef;

/// A DSN as Postfix writes it (bounce(8) with its default templates), shortened.
fn postfix_dsn(recipient: &str, status: &str, action: &str) -> String {
    format!(
        "Return-Path: <>\r\n\
Delivered-To: bounce+1-7-abc@example.org\r\n\
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
To: team@example.org\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status;\r\n\
\tboundary=\"B1\"\r\n\
Message-Id: <20261202070000.1@mail.example.org>\r\n\
\r\n\
--B1\r\n\
Content-Description: Notification\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is the mail system at host mail.example.org.\r\n\
\r\n\
--B1\r\n\
Content-Description: Delivery report\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mail.example.org\r\n\
\r\n\
Final-Recipient: rfc822; {recipient}\r\n\
Original-Recipient: rfc822;{recipient}\r\n\
Action: {action}\r\n\
Status: {status}\r\n\
Diagnostic-Code: X-Postfix; unknown user: \"niemand\"\r\n\
\r\n\
--B1\r\n\
Content-Description: Undelivered Message Headers\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: team@example.org\r\n\
To: {recipient}\r\n\
Subject: Ausgabe 3\r\n\
Message-ID: <ausgabe-3.00000000000000aa.00000000000000bb@example.org>\r\n\
\r\n\
--B1--\r\n"
    )
}

const ARF: &str = "From: feedback@provider.example\r\n\
To: team@example.org\r\n\
Subject: Complaint\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\
\r\n\
--F\r\n\
Content-Type: text/plain\r\n\
\r\n\
This is an abuse report.\r\n\
--F\r\n\
Content-Type: message/feedback-report\r\n\
\r\n\
Feedback-Type: abuse\r\n\
User-Agent: Provider/1.0\r\n\
Version: 1\r\n\
Original-Rcpt-To: <erika@example.org>\r\n\
\r\n\
--F\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: team@example.org\r\n\
To: erika@example.org\r\n\
Message-ID: <ausgabe-12.1.2@example.org>\r\n\
Subject: Ausgabe 12\r\n\
\r\n\
Hallo\r\n\
--F--\r\n";

fn no_verp(_: &str) -> Option<(CampaignRef, i64)> {
    None
}

#[test]
fn a_hard_bounce_names_recipient_status_and_edition() {
    let b = parse(
        postfix_dsn("niemand@example.org", "5.1.1", "failed").as_bytes(),
        &no_verp,
    )
    .unwrap();
    assert_eq!(
        b,
        vec![NewBounce {
            email: "niemand@example.org".into(),
            campaign: Some(CampaignRef::Edition(3)),
            subscriber: None,
            kind: BounceKind::Hard,
            status: Some("5.1.1".into()),
            diagnostic: Some("X-Postfix; unknown user: \"niemand\"".into()),
        }]
    );
}

#[test]
fn soft_bounces_count_and_delay_warnings_do_not() {
    let b = parse(
        postfix_dsn("a@example.org", "4.2.2", "failed").as_bytes(),
        &no_verp,
    )
    .unwrap();
    assert_eq!(b[0].kind, BounceKind::Soft);
    let e = parse(
        postfix_dsn("a@example.org", "4.4.1", "delayed").as_bytes(),
        &no_verp,
    )
    .unwrap_err();
    assert!(e.contains("delay warning"), "{e}");
}

#[test]
fn a_complaint_is_matched_by_its_original_recipient_and_message_id() {
    let b = parse(ARF.as_bytes(), &no_verp).unwrap();
    assert_eq!(b[0].email, "erika@example.org");
    assert_eq!(b[0].kind, BounceKind::Complaint);
    assert_eq!(b[0].campaign, Some(CampaignRef::Edition(12)));
    assert_eq!(b[0].status.as_deref(), Some("abuse"));
}

#[test]
fn the_verp_return_path_wins_over_the_message_id() {
    let verp =
        |a: &str| (a == "bounce+1-7-abc@example.org").then_some((CampaignRef::Edition(1), 7));
    let b = parse(
        postfix_dsn("x@example.org", "5.1.1", "failed").as_bytes(),
        &verp,
    )
    .unwrap();
    assert_eq!(
        (b[0].campaign, b[0].subscriber),
        (Some(CampaignRef::Edition(1)), Some(7))
    );
}

#[test]
fn verp_addresses_round_trip_and_forged_tags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let hasher = store.hasher();
    let template = "bounce+{token}@example.org";
    let edition = CampaignRef::Edition(4);
    let address = verp_address(template, edition, 17, &hasher)
        .unwrap()
        .to_string();
    assert!(address.starts_with("bounce+4-17-"), "{address}");
    assert_eq!(parse_verp(template, &address, &hasher), Some((edition, 17)));
    // An invitation's campaign is named by its row; its tag does not fit an edition's.
    let invitation = verp_address(template, CampaignRef::Row(4), 17, &hasher)
        .unwrap()
        .to_string();
    assert!(invitation.starts_with("bounce+c4-17-"), "{invitation}");
    assert_eq!(
        parse_verp(template, &invitation, &hasher),
        Some((CampaignRef::Row(4), 17))
    );
    let swapped = invitation.replace("bounce+c4-", "bounce+4-");
    assert_eq!(parse_verp(template, &swapped, &hasher), None);
    assert_eq!(
        parse_verp(template, "bounce+c-17-00@example.org", &hasher),
        None
    );
    // The key is random per store, so a tag may be all digits, which upper case leaves alone:
    // take the first subscriber whose tag has a letter (one of the first 1000 always has).
    let lettered = (1..1000)
        .filter_map(|id| verp_address(template, edition, id, &hasher))
        .map(|a| a.to_string())
        .find(|a| {
            let tag = a.rsplit('-').next().and_then(|t| t.split('@').next());
            tag.is_some_and(|t| t.bytes().any(|b| b.is_ascii_alphabetic()))
        })
        .unwrap();
    assert_eq!(
        parse_verp(template, &format!("<{}>", lettered.to_uppercase()), &hasher),
        None,
        "the tag is hex in lower case; an upper-cased one is not ours ({lettered})"
    );
    let forged = address.replace("bounce+4-17-", "bounce+4-18-");
    assert_eq!(parse_verp(template, &forged, &hasher), None);
    assert_eq!(parse_verp(template, "bounce+@example.org", &hasher), None);
    assert_eq!(parse_verp(template, "x", &hasher), None);
    assert!(verp_address("bounce@example.org", edition, 17, &hasher).is_none());
}

#[test]
fn hostile_reports_are_reasons_not_panics() {
    let hostile = postfix_dsn("a@example.org\u{1b}]0;pwn\u{7}", "5.1.1\r\nX: y", "failed");
    // An address with ESC in it is no address, in the DSN's fields and the returned headers.
    let e = parse(hostile.as_bytes(), &no_verp).unwrap_err();
    assert!(
        e.contains("1 failed recipient(s) name no usable address"),
        "{e}"
    );
    // A status with CR/LF in it: the line break ends the field, the rest is no field of ours.
    let b = parse(
        postfix_dsn(
            "a@example.org",
            "5.1.1\r\nDiagnostic-Code: \u{1b}[2Jx",
            "failed",
        )
        .as_bytes(),
        &no_verp,
    )
    .unwrap();
    for f in [&b[0].email, b[0].diagnostic.as_deref().unwrap_or_default()] {
        assert!(!f.chars().any(char::is_control), "{f:?}");
    }
    for (raw, why) in [
        (&b""[..], "not an e-mail message"),
        (b"Subject: hi\r\n\r\nbody", "no multipart/report"),
        (
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n--x",
            "without its message/delivery-status",
        ),
        (
            b"Content-Type: multipart/report; report-type=\"\x1b[31mx\"; boundary=x\r\n\r\n",
            "neither delivery-status",
        ),
    ] {
        let e = parse(raw, &no_verp).unwrap_err();
        assert!(e.contains(why), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
    }
    // A deeply nested, unterminated MIME tree.
    let mut nested = String::new();
    for i in 0..200 {
        nested.push_str(&format!(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    assert!(parse(nested.as_bytes(), &no_verp).is_err());
}

#[test]
fn the_edition_comes_only_from_our_message_ids() {
    assert_eq!(
        edition_of_message_id("<ausgabe-7.ab.cd@example.org>"),
        Some(7)
    );
    for other in [
        "<ausgabe-.x@y>",
        "<ausgabe-7@y>",
        "<other-7.x@y>",
        "ausgabe-99999999999.x",
    ] {
        assert_eq!(edition_of_message_id(other), None, "{other}");
    }
}

#[test]
fn a_maildir_is_read_once_and_big_or_unknown_messages_get_a_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    store
        .add(
            "niemand@example.org",
            None,
            crate::newsletter::store::subscribers::Source::Cli,
            crate::newsletter::store::DEFAULT_LIST,
        )
        .unwrap();
    std::fs::write(
        maildir.join("new/1.dsn"),
        postfix_dsn("niemand@example.org", "5.1.1", "failed"),
    )
    .unwrap();
    std::fs::write(
        maildir.join("new/2.unknown"),
        postfix_dsn("fremd@example.org", "5.1.1", "failed"),
    )
    .unwrap();
    let big = std::fs::File::create(maildir.join("new/3.big")).unwrap();
    big.set_len(30 * 1024 * 1024).unwrap();
    let config = BouncesConfig::default();
    let mailbox = Mailbox::Maildir(maildir.clone());
    let first = process(&mut store, &mailbox, &config).unwrap();
    assert_eq!(first.len(), 3);
    assert!(matches!(
        &first[0].outcome,
        Outcome::Recorded(r) if r[0].1 == Recorded::Counted { stopped: true, soft_count: 0 }
    ));
    assert!(matches!(&first[1].outcome, Outcome::Recorded(r) if r[0].1 == Recorded::Unknown));
    assert!(matches!(&first[2].outcome, Outcome::Ignored(w) if w.contains("30 MB is too big")));
    assert!(maildir.join("cur/1.dsn:2,S").exists());
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert!(process(&mut store, &mailbox, &config).unwrap().is_empty());
    // The same report again (another copy, or an mbox read twice) counts nothing.
    std::fs::write(
        maildir.join("new/4.copy"),
        postfix_dsn("niemand@example.org", "5.1.1", "failed"),
    )
    .unwrap();
    let again = process(&mut store, &mailbox, &config).unwrap();
    assert!(matches!(again[0].outcome, Outcome::SeenBefore));
    let s = store.find("niemand@example.org").unwrap().unwrap();
    assert_eq!(store.bounces_of(s.id).unwrap().len(), 1);
}

#[test]
fn an_mbox_is_read_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bounces.mbox");
    let text = format!(
        "From MAILER-DAEMON Wed Dec  2 07:00:00 2026\n{}\nFrom feedback Wed Dec  2 07:01:00 2026\n{}\n",
        postfix_dsn("niemand@example.org", "5.1.1", "failed").replace("\r\n", "\n"),
        ARF.replace("\r\n", "\n")
    );
    std::fs::write(&mbox, &text).unwrap();
    let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    store
        .add(
            "erika@example.org",
            None,
            crate::newsletter::store::subscribers::Source::Cli,
            crate::newsletter::store::DEFAULT_LIST,
        )
        .unwrap();
    let config = BouncesConfig::default();
    let r = process(&mut store, &Mailbox::Mbox(mbox.clone()), &config).unwrap();
    assert_eq!(r.len(), 2);
    assert!(matches!(&r[1].outcome, Outcome::Recorded(b) if b[0].0.kind == BounceKind::Complaint));
    let again = process(&mut store, &Mailbox::Mbox(mbox.clone()), &config).unwrap();
    assert!(
        again
            .iter()
            .all(|m| matches!(m.outcome, Outcome::SeenBefore))
    );
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), text);
}
