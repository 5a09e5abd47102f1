//! Issue 11 item 2: `calsync demo` shows calsync syncing sample meetings with no account — the
//! real daemon, store, workers, mapping and REST adapter against its built-in calendar and CRM —
//! through the binary (what a newcomer runs) and in process (what each step did).

use calsync::demo::{self, DemoOptions, Outcome};

use crate::support::binary::listing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_syncs_the_samples_and_names_each_record_and_outcome() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // No configuration at all: a newcomer's shell (a leftover variable must not matter either).
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
        .arg("demo")
        .env_clear()
        .env("TMPDIR", tmp.path())
        .env("CALSYNC__CRM__KIND", "hubspot")
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    for (number, outcome) in [
        ("[1/9] event.created evt-qbr-acme", "created record crm-1"),
        (
            "[2/9] event.created evt-offsite-globex",
            "created record crm-2",
        ),
        ("[5/9] event.updated evt-qbr-acme", "updated record crm-1"),
        ("[6/9] event.updated evt-qbr-acme", "redelivery ignored"),
        ("[7/9] event.updated evt-qbr-acme", "unchanged"),
        (
            "[8/9] event.updated evt-intro-initech",
            "updated record crm-3 (meeting_status: cancelled)",
        ),
        (
            "[9/9] event.deleted evt-coffee-hooli",
            "soft-deleted record crm-4",
        ),
    ] {
        let at = stdout
            .find(number)
            .unwrap_or_else(|| panic!("no {number}:\n{stdout}"));
        let step = &stdout[at..];
        let step = &step[..step.find("\n\n").unwrap_or(step.len())];
        assert!(step.contains("webhook answered 200"), "{step}");
        assert!(step.contains(&format!("outcome: {outcome}")), "{step}");
    }
    assert!(stdout.contains("CRM: POST /api/meetings → 201"), "{stdout}");
    assert!(stdout.contains("DELETE /api/meetings?external_event_id=evt-coffee-hooli → 204"));
    let table = &stdout[stdout
        .find("The CRM holds 4 record(s) for 4 event(s):")
        .expect(&stdout)..];
    for record in [
        "crm-1  evt-qbr-acme          confirmed  2026-07-14T17:30:00Z   45 min  Quarterly business review - Acme",
        "crm-2  evt-offsite-globex    confirmed  2026-07-20 all day     3 days  Globex onboarding offsite",
        "crm-3  evt-intro-initech     cancelled",
        "crm-4  evt-coffee-hooli      tentative",
    ] {
        assert!(table.contains(record), "{record}\n{table}");
    }
    assert!(
        table.contains("Coffee with Hooli  (soft-deleted)"),
        "{table}"
    );
    assert!(
        table.contains("notes: Agenda / - Kick-off & goals"),
        "{table}"
    );
    assert!(stdout.contains(
        "9 notifications: 4 created, 2 updated, 1 redelivery ignored, 1 unchanged, 1 soft-deleted."
    ));

    // Nothing in the working directory, and the temporary directory is gone.
    assert_eq!(listing(cwd.path()), Vec::<String>::new());
    assert_eq!(listing(tmp.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_reaches_the_crm_as_the_mapping_says() {
    let mut out = Vec::new();
    let summary = demo::run(DemoOptions { json: true }, &mut out)
        .await
        .unwrap();
    let outcomes: Vec<Outcome> = summary
        .steps
        .iter()
        .map(|step| step.outcome.clone())
        .collect();
    let id = |n: &str| format!("crm-{n}");
    assert_eq!(
        outcomes,
        [
            Outcome::Created(id("1")),
            Outcome::Created(id("2")),
            Outcome::Created(id("3")),
            Outcome::Created(id("4")),
            Outcome::Updated(id("1")),
            Outcome::Redelivery,
            Outcome::Unchanged,
            Outcome::Updated(id("3")),
            Outcome::SoftDeleted(id("4")),
        ]
    );
    assert!(summary.steps.iter().all(|step| step.answer == 200));
    // The redelivery and the invisible change cost no CRM request at all.
    assert!(summary.steps[5].crm_requests.is_empty());
    assert!(summary.steps[6].crm_requests.is_empty());

    let records = &summary.records;
    assert_eq!(records.len(), 4, "one record per event, no duplicate");
    let review = &records[0].record;
    assert_eq!(review["meeting_date"], "2026-07-14T17:30:00Z", "moved");
    let emails: Vec<&str> = review["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attendee| attendee["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "dana.buyer@acme.example",
            "rita@seller.example",
            "omar@seller.example"
        ]
    );
    let offsite = &records[1].record;
    assert_eq!(offsite["all_day"], true);
    assert_eq!(offsite["meeting_end_date"], "2026-07-23T00:00:00Z");
    let notes = offsite["notes"].as_str().unwrap();
    assert!(
        notes.contains("Kick-off & goals") && !notes.contains('<'),
        "{notes}"
    );
    assert_eq!(records[2].record["meeting_status"], "cancelled");
    assert!(!records[2].deleted, "cancelled is not deleted");
    assert!(
        records[3].deleted,
        "deleted from the calendar: soft-deleted"
    );

    // --json prints what the CRM holds.
    let out = String::from_utf8(out).unwrap();
    let json = &out[out.find("[\n").unwrap()..out.find("\n]").unwrap() + 2];
    let printed: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(printed[2]["record"]["meeting_status"], "cancelled");
    assert_eq!(printed[3]["deleted"], true);
}
