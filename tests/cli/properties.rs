//! Property test through the binary (issue 3 §4): random sequences of steps — add, remove
//! or update a patch, add or swap a service pack, apply, rollback — on a small generated
//! product. After every apply `verify` exits 0 and plugins hold exactly the model's SPEC §5
//! state (the backup overlaid with the latest service pack, then the patches it does not
//! cover in byte-wise name order, plus foreign files); every rollback gives back the
//! backup (plus foreign files). Deterministic: a fixed seed, no failure files.

use crate::support::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use carbon_fixtures::EntryKind;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Bundles the steps draw from; the first four are in plugins from the start.
const BUNDLES: &[&str] = &["org.a", "org.b", "org.c", "org.d", "org.e"];
/// A plain file (no manifest read): lands under its own name.
const PLAIN: &str = "extra.txt";
/// Patch names, of two lengths so that byte-wise order is not numeric order.
const PATCH_NAMES: &[&str] = &[
    "patch0001",
    "patch0002",
    "patch0003",
    "patch0010",
    "patch10000",
    "patch2000",
];
/// A file dropped into plugins by someone else after the first apply.
const FOREIGN: &str = "dropin_9.9.jar";

/// One step of a sequence; the numbers pick among what exists when the step runs.
#[derive(Debug, Clone)]
enum Step {
    AddPatch { slot: u8, files: Vec<(u8, bool)> },
    RemovePatch { pick: u8 },
    UpdatePatch { pick: u8, file: u8, how: u8 },
    AddServicePack { files: Vec<u8>, covers: Vec<u8> },
    SwapServicePack { files: Vec<u8>, covers: Vec<u8> },
    Apply,
    Rollback,
}

fn step() -> impl Strategy<Value = Step> {
    let file = 0..=BUNDLES.len() as u8; // BUNDLES.len() stands for PLAIN
    let files = proptest::collection::vec(file.clone(), 0..4);
    let covers = proptest::collection::vec(any::<u8>(), 0..3);
    prop_oneof![
        3 => (any::<u8>(), proptest::collection::vec((file.clone(), any::<bool>()), 1..4))
            .prop_map(|(slot, files)| Step::AddPatch { slot, files }),
        1 => any::<u8>().prop_map(|pick| Step::RemovePatch { pick }),
        2 => (any::<u8>(), file, 0..3u8)
            .prop_map(|(pick, file, how)| Step::UpdatePatch { pick, file, how }),
        1 => (files.clone(), covers.clone())
            .prop_map(|(files, covers)| Step::AddServicePack { files, covers }),
        1 => (files, covers).prop_map(|(files, covers)| Step::SwapServicePack { files, covers }),
        3 => Just(Step::Apply),
        1 => Just(Step::Rollback),
    ]
}

/// A file of an entry: its own name, where it lands, its bytes.
#[derive(Debug, Clone)]
struct File {
    own: String,
    target: String,
    bytes: Vec<u8>,
}

/// What the product should hold, kept beside the real tree.
#[derive(Default)]
struct Model {
    patches: BTreeMap<String, Vec<File>>,
    /// Service pack name → (lib files, covered patch names).
    packs: BTreeMap<String, (Vec<File>, Vec<String>)>,
    /// The backup's files (target → MD5), once a first apply made it.
    backup: Option<BTreeMap<PathBuf, String>>,
    foreign: BTreeMap<PathBuf, String>,
    next_variant: u32,
    next_pack: u32,
}

impl Model {
    /// A new file of bundle `index` (or the plain file), with content never seen before.
    fn file(&mut self, index: u8, own_name: bool) -> File {
        self.next_variant += 1;
        let variant = format!("v{}", self.next_variant);
        match BUNDLES.get(usize::from(index)) {
            Some(bsn) => File {
                own: if own_name {
                    target(bsn)
                } else {
                    format!("{bsn}-fix.jar")
                },
                target: target(bsn),
                bytes: jar(bsn, &variant),
            },
            None => File {
                own: PLAIN.to_string(),
                target: PLAIN.to_string(),
                bytes: format!("plain file {variant}\n").into_bytes(),
            },
        }
    }

    /// SPEC §5: the backup overlaid with the latest service pack, then every patch it does
    /// not cover in byte-wise name order; plus the foreign files.
    fn desired(&self) -> BTreeMap<PathBuf, String> {
        let mut desired = self.backup.clone().expect("desired only after a backup");
        let latest = self.packs.iter().next_back();
        let covered: &[String] = latest.map_or(&[], |(_, (_, c))| c);
        let patches = self
            .patches
            .iter()
            .filter(|(name, _)| !covered.contains(name))
            .map(|(_, files)| files);
        for files in latest.map(|(_, (f, _))| f).into_iter().chain(patches) {
            for file in files {
                desired.insert(PathBuf::from(&file.target), md5_hex(&file.bytes));
            }
        }
        desired.extend(self.foreign.clone());
        desired
    }
}

/// Every file under `dir` (relative path → MD5); directories left out.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, String> {
    snapshot(dir)
        .entries
        .into_iter()
        .filter(|(_, info)| info.kind == EntryKind::File)
        .map(|(path, info)| (path, info.digest))
        .collect()
}

/// Picks the `pick`-th (modulo) key of a map, if any.
fn nth_key<V>(map: &BTreeMap<String, V>, pick: u8) -> Option<String> {
    (!map.is_empty()).then(|| {
        map.keys()
            .nth(usize::from(pick) % map.len())
            .expect("index below len")
            .clone()
    })
}

fn write_patch(env: &Env, name: &str, files: &[File]) {
    let dir = env.patches().join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    for file in files {
        env.home.add_patch_file(name, &file.own, &file.bytes);
    }
}

/// Carries out one step on the tree and the model, checking what an apply or rollback did.
fn run_step(env: &Env, model: &mut Model, step: &Step, trail: &str) {
    match step {
        Step::AddPatch { slot, files } => {
            let free: Vec<&str> = PATCH_NAMES
                .iter()
                .copied()
                .filter(|n| !model.patches.contains_key(*n))
                .collect();
            let Some(name) = free.get(usize::from(*slot) % free.len().max(1)) else {
                return;
            };
            let mut chosen: Vec<File> = Vec::new();
            for (index, own_name) in files {
                let file = model.file(*index, *own_name);
                // One file per bundle: two would be refused as a name clash (bad input).
                if chosen.iter().all(|f| f.target != file.target) {
                    chosen.push(file);
                }
            }
            write_patch(env, name, &chosen);
            model.patches.insert(name.to_string(), chosen);
        }
        Step::RemovePatch { pick } => {
            if let Some(name) = nth_key(&model.patches, *pick) {
                fs::remove_dir_all(env.patches().join(&name)).unwrap();
                model.patches.remove(&name);
            }
        }
        Step::UpdatePatch { pick, file, how } => {
            let Some(name) = nth_key(&model.patches, *pick) else {
                return;
            };
            let new = model.file(*file, true);
            let files = model.patches.get_mut(&name).expect("picked from the model");
            let at = files.iter().position(|f| f.target == new.target);
            match (how, at) {
                // Delete the file from the applied patch (the runtime misses this).
                (0, Some(at)) => {
                    files.remove(at);
                }
                // Rewrite it in place, or add it.
                (_, Some(at)) => {
                    files[at] = File {
                        own: files[at].own.clone(),
                        ..new
                    }
                }
                (_, None) => files.push(new),
            }
            let files = files.clone();
            write_patch(env, &name, &files);
        }
        Step::AddServicePack { files, covers } | Step::SwapServicePack { files, covers } => {
            if matches!(step, Step::SwapServicePack { .. }) {
                for name in std::mem::take(&mut model.packs).into_keys() {
                    fs::remove_dir_all(env.servicepacks().join(name)).unwrap();
                }
            }
            model.next_pack += 1;
            let name = format!("servicepack{:03}", model.next_pack);
            let covered: Vec<String> = covers
                .iter()
                .filter_map(|c| nth_key(&model.patches, *c))
                .chain(std::iter::once("patch9999".to_string()))
                .collect();
            let covered_refs: Vec<&str> = covered.iter().map(String::as_str).collect();
            env.home.add_service_pack(&name, &covered_refs);
            let mut lib: Vec<File> = Vec::new();
            for index in files {
                let file = model.file(*index, true);
                if lib.iter().all(|f| f.target != file.target) {
                    env.home
                        .add_service_pack_file(&name, &file.own, &file.bytes);
                    lib.push(file);
                }
            }
            model.packs.insert(name, (lib, covered));
        }
        Step::Apply => check_apply(env, model, trail),
        Step::Rollback => {
            let run = env.rollback();
            let Some(backup) = model.backup.clone() else {
                run.code(2).stderr_has("no backup");
                return;
            };
            run.code(0);
            let mut expected = backup;
            expected.extend(model.foreign.clone());
            assert_eq!(
                files_under(&env.plugins()),
                expected,
                "rollback gives back the backup (plus foreign files)\n{trail}"
            );
            // Every patch and service pack went to `.rolled-back/`.
            model.patches.clear();
            model.packs.clear();
            env.verify().code(0);
        }
    }
}

fn check_apply(env: &Env, model: &mut Model, trail: &str) {
    let first = model.backup.is_none();
    if first {
        model.backup = Some(files_under(&env.plugins()));
    }
    let run = env.apply();
    assert_eq!(
        run.code, 0,
        "apply\n{trail}\n{}\n{}",
        run.stdout, run.stderr
    );
    let verify = env.verify();
    assert_eq!(
        verify.code, 0,
        "verify after apply\n{trail}\n{}",
        verify.stdout
    );
    assert_eq!(
        files_under(&env.plugins()),
        model.desired(),
        "plugins after apply\n{trail}"
    );
    assert_eq!(
        Some(files_under(&env.backup())),
        model.backup,
        "the backup never changes\n{trail}"
    );
    if first {
        // Someone drops a bundle into plugins after the backup: it must be left alone.
        let bytes = jar("dropin", "foreign");
        env.home.add_plugin(FOREIGN, &bytes);
        model
            .foreign
            .insert(PathBuf::from(FOREIGN), md5_hex(&bytes));
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0ca7_b0c5_b1e5),
        // Each case runs the binary dozens of times; shrinking a failure is bounded too.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_step_sequences_keep_apply_verify_and_rollback_true(
        steps in proptest::collection::vec(step(), 1..=8)
    ) {
        let env = home_with_plugins(&BUNDLES[..4]);
        let mut model = Model::default();
        let mut trail = String::new();
        for step in steps.iter().chain([&Step::Apply, &Step::Rollback]) {
            trail.push_str(&format!("{step:?}\n"));
            run_step(&env, &mut model, step, &trail);
        }
    }
}
