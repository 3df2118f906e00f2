//! Concurrent writers of one consultation (the server's audio tracks finishing together) and a
//! concurrent sweep: the keyring lock must lose no update.

mod common;

use common::Scratch;
use vault::{ArtefactKind, Kek, RetentionPolicy, Vault, retention};

#[test]
fn concurrent_writes_and_sweeps_lose_no_update() {
    let scratch = Scratch::new("concurrent");
    let vault = Vault::open(scratch.path(), Kek::generate().unwrap()).unwrap();
    vault.create("c", false).unwrap();
    let kinds = [
        ArtefactKind::Audio { track: 0 },
        ArtefactKind::Audio { track: 1 },
        ArtefactKind::Transcript,
        ArtefactKind::Draft,
    ];
    std::thread::scope(|scope| {
        for kind in kinds {
            let vault = vault.clone();
            scope.spawn(move || {
                for version in 0..15 {
                    vault.put("c", kind, format!("{kind} v{version}").as_bytes()).unwrap();
                }
            });
        }
        let vault = vault.clone();
        scope.spawn(move || {
            for _ in 0..15 {
                let report = retention::sweep(
                    &vault,
                    &RetentionPolicy::default(),
                    std::time::SystemTime::now(),
                    &mut |_| Ok(()),
                )
                .unwrap();
                assert!(report.deletions.is_empty() && report.problems.is_empty(), "{report}");
            }
        });
    });
    for kind in kinds {
        assert_eq!(*vault.get("c", kind).unwrap(), format!("{kind} v14").into_bytes());
    }
    // Exactly one file per artefact plus the keyring: replaced versions were removed.
    let files = std::fs::read_dir(vault.consultation_dir("c").unwrap()).unwrap().count();
    assert_eq!(files, kinds.len() + 1);
}
