//! The planner (SPEC §5, §8): from what was read, the desired content of plugins and the
//! list of writes that gets there. A pure function — no filesystem — so every rule about
//! what to write, restore or archive is decided (and unit-tested) here alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::digest::Md5Digest;
use crate::discover::{Discovery, EntryKind};
use crate::journal::Journal;
use crate::layout;
use crate::metadata::{JarList, Placed, State};

mod target;
pub use target::Target;

/// A file under plugins or the backup, as read. Its digest is only read when a plan needs
/// it ([`digests_needed`]): a size that differs already says the content differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Present {
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content, when it was read.
    pub md5: Option<Md5Digest>,
}

impl Present {
    /// Whether this file is known to hold the content of `size` bytes with digest `md5`.
    /// Unknown counts as different: a needless write, never a missed one.
    pub fn holds(&self, size: u64, md5: Md5Digest) -> bool {
        self.size == size && self.md5 == Some(md5)
    }

    /// Whether this file is known to hold the same content as `other`.
    pub fn same_as(&self, other: &Present) -> bool {
        other.md5.is_some_and(|md5| self.holds(other.size, md5))
    }
}

/// What a survey reads digests for: the plans of `apply` (also `verify`, `status`, `plan`)
/// or the plan of `rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Apply,
    Rollback,
}

/// The two trees whose files a plan compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Plugins,
    Backup,
}

/// The metadata files as found (`None`: the file does not exist or could not be used).
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `prePatchedDir.txt` (Carbon 4.4+ place).
    pub applied_44: Option<Vec<String>>,
    /// `prePatched.txt` (Carbon 4.2 place).
    pub applied_42: Option<Vec<String>>,
    /// `prePatchedJARs.txt`.
    pub jars: Option<JarList>,
    /// carbon-patch's own record of what it placed.
    pub state: Option<State>,
    /// The journal of an interrupted apply or rollback.
    pub journal: Option<Journal>,
}

impl Recorded {
    /// The applied list the runtime would read: the 4.4+ place, else the 4.2 one.
    pub fn applied(&self) -> Option<&[String]> {
        self.applied_44.as_deref().or(self.applied_42.as_deref())
    }

    /// Every target an earlier apply (ours or the runtime's) placed, with its entry when
    /// known — including what an interrupted apply may have placed before it could record it.
    pub fn placed(&self) -> BTreeMap<Target, Option<String>> {
        // Collected in sorted runs, the last of equal targets winning (state over journal
        // over the jar list): one bulk build instead of a search per insert.
        let jars = self
            .jars
            .iter()
            .flat_map(|j| j.jars.keys())
            .map(|name| (name.clone(), None));
        let journal = self.journal.iter().flat_map(Journal::targets);
        let state = self.state.iter().flat_map(State::targets);
        jars.chain(
            journal
                .chain(state)
                .map(|(target, record)| (target.into(), Some(record.entry.clone()))),
        )
        .collect()
    }
}

/// The files of a tree (plugins or the backup) by path relative to it.
pub type Listing = BTreeMap<Target, Present>;

/// Everything read from the tree besides discovery.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every file under plugins.
    pub plugins: Listing,
    /// Every file in the backup, or `None` when there is no backup yet.
    pub backup: Option<Listing>,
    /// The metadata.
    pub recorded: Recorded,
}

/// The file the apply order provides for one target: its latest provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provided {
    /// MD5 of the provider's file.
    pub md5: Md5Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The entry (service pack or patch) providing it.
    pub entry: String,
    /// The provider's file.
    pub source: PathBuf,
}

impl From<&Provided> for Placed {
    /// What placing the provider's file records (state, journal).
    fn from(provided: &Provided) -> Placed {
        Placed {
            md5: provided.md5,
            entry: provided.entry.clone(),
        }
    }
}

/// One write into plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Path relative to plugins.
    pub target: PathBuf,
    /// What happens to it.
    pub kind: ActionKind,
    /// What is there now (`None`: absent); its digest is only read when the sizes agree.
    pub old: Option<Present>,
    /// Whether the current content exists nowhere else (not in the backup) and so must be
    /// archived before it is replaced.
    pub keep_old: bool,
}

/// What an [`Action`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ActionKind {
    /// Copy an entry's file in.
    Write {
        entry: String,
        source: PathBuf,
        md5: Md5Digest,
    },
    /// Copy the backup's version back. Its digest, when read: `apply` reads it to check
    /// the restored file; `rollback` only where the sizes cannot tell the contents apart.
    Restore { md5: Option<Md5Digest> },
    /// Take the file out of plugins into the archive.
    Archive,
}

impl ActionKind {
    /// The MD5 the target has once the action is done (`None`: it is taken out).
    pub fn md5(&self) -> Option<Md5Digest> {
        match self {
            ActionKind::Write { md5, .. } => Some(*md5),
            ActionKind::Restore { md5 } => *md5,
            ActionKind::Archive => None,
        }
    }
}

/// A change since the last apply, for the log and the report (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event", content = "name")]
pub enum Event {
    /// A service pack not applied before.
    NewServicePack(String),
    /// A patch not applied before.
    NewPatch(String),
    /// An entry applied before that is no longer in the apply order.
    Reverted(String),
    /// A bundle whose content changed in an applied entry.
    Updated(PathBuf),
    /// A bundle new in an applied entry.
    Added(PathBuf),
    /// A bundle no applied entry provides any more (the runtime misses these).
    Removed(PathBuf),
}

impl Event {
    /// Whether the runtime logs this event too (and so it goes under its category).
    pub fn is_runtime_event(&self) -> bool {
        !matches!(self, Event::Removed(_))
    }

    /// Whether the event is an entry waiting to be applied.
    pub fn is_pending(&self) -> bool {
        matches!(self, Event::NewServicePack(_) | Event::NewPatch(_))
    }
}

impl fmt::Display for Event {
    /// The runtime's wording.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names come from the tree and from the applied lists: shown escaped, so none
        // drives a terminal or forges a log line.
        let name = |n: &str| crate::names::Shown(std::ffi::OsStr::new(n)).to_string();
        let path = |p: &std::path::Path| crate::names::Shown::path(p).to_string();
        match self {
            Event::NewServicePack(n) => write!(f, "New service pack available - {}", name(n)),
            Event::NewPatch(n) => write!(f, "New patch available - {}", name(n)),
            Event::Reverted(n) => write!(f, "{} has been reverted", name(n)),
            Event::Updated(t) => write!(f, "{} has been updated", path(t)),
            Event::Added(t) => write!(f, "{} has been added", path(t)),
            Event::Removed(t) => write!(f, "{} has been removed", path(t)),
        }
    }
}

/// Everything an apply or rollback will do, decided before anything is written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Whether the backup must be made first (there is none yet).
    pub create_backup: bool,
    /// Writes into plugins, in target order.
    pub actions: Vec<Action>,
    /// Targets already holding their desired content.
    pub unchanged: Vec<PathBuf>,
    /// What the apply order provides, by target: the content of `prePatchedJARs.txt`.
    pub provided: BTreeMap<PathBuf, Provided>,
    /// The applied list to record (SPEC §9).
    pub applied_list: Vec<String>,
    /// Changes since the last apply.
    pub events: Vec<Event>,
    /// Files in plugins that neither the backup nor carbon-patch put there: left alone.
    pub foreign: Vec<PathBuf>,
    /// Rollback only: entry directories to move to the hidden rolled-back place.
    pub hide: Vec<PathBuf>,
}

impl Plan {
    /// Whether anything in plugins or the backup will be written.
    pub fn writes_plugins(&self) -> bool {
        self.create_backup || !self.actions.is_empty()
    }
}

/// The targets a plan can touch: everything the apply order provides and everything an
/// earlier apply placed.
pub fn targets_of_interest(discovery: &Discovery, recorded: &Recorded) -> BTreeSet<Target> {
    targets_with(discovery, &recorded.placed())
}

/// [`targets_of_interest`] with the placed targets already worked out.
fn targets_with(
    discovery: &Discovery,
    placed: &BTreeMap<Target, Option<String>>,
) -> BTreeSet<Target> {
    discovery
        .order()
        .flat_map(|e| e.files.iter().map(|f| f.target.clone()))
        .chain(placed.keys().cloned())
        .collect()
}

/// The digests the plan for `purpose` needs and `observed` lacks, so the reader hashes only
/// those. A plan compares a target in plugins with its desired content (the provider's
/// file, or the backup's copy) and with the backup's copy (is the old content kept
/// anywhere?); a comparison needs digests only when the sizes agree. `apply` also reads
/// the backup's copy of every target it may restore, to check the restored file against
/// it; `rollback` does not (restoring the backup is its whole job, and the copy is the
/// kernel's), so rolling back a first apply reads nothing it did not have to. What `apply`
/// needs covers what `rollback` needs: an apply's survey can plan a rollback.
pub fn digests_needed(
    purpose: Purpose,
    discovery: &Discovery,
    observed: &Observed,
) -> Vec<(Tree, Target)> {
    let provided = match purpose {
        Purpose::Apply => provided(discovery),
        Purpose::Rollback => BTreeMap::new(),
    };
    let mut needed = Vec::new();
    for target in targets_with(discovery, &observed.recorded.placed()) {
        let in_plugins = observed.plugins.get(&target);
        let in_backup = observed.backup.as_ref().and_then(|b| b.get(&target));
        let sizes = [
            provided.get(&target).map(|p| p.size),
            in_backup.map(|b| b.size),
        ];
        if let Some(file) = in_plugins
            && file.md5.is_none()
            && sizes.contains(&Some(file.size))
        {
            needed.push((Tree::Plugins, target.clone()));
        }
        let restore_checked = purpose == Purpose::Apply && !provided.contains_key(&target);
        if let Some(file) = in_backup
            && file.md5.is_none()
            && (restore_checked || in_plugins.is_some_and(|p| p.size == file.size))
        {
            needed.push((Tree::Backup, target));
        }
    }
    needed
}

/// What the apply order provides: the backup overlaid with each entry in turn, later
/// entries winning (SPEC §5) — here only the overlay, by target.
pub fn provided(discovery: &Discovery) -> BTreeMap<Target, Provided> {
    let mut provided = BTreeMap::new();
    for entry in discovery.order() {
        for file in &entry.files {
            provided.insert(
                file.target.clone(),
                Provided {
                    md5: file.md5,
                    size: file.size,
                    entry: entry.name.clone(),
                    source: file.source.clone(),
                },
            );
        }
    }
    provided
}

/// The plan of `apply`: make plugins equal the backup overlaid with the apply order, and
/// take out what an earlier apply placed that nothing provides any more.
pub fn plan_apply(discovery: &Discovery, observed: &Observed) -> Plan {
    let provided = provided(discovery);
    let placed = observed.recorded.placed();
    let mut plan = Plan {
        create_backup: observed.backup.is_none(),
        applied_list: discovery.applied_list(true),
        events: events(discovery, &observed.recorded, &provided, &placed),
        foreign: foreign(observed, &provided, &placed),
        ..Plan::default()
    };
    for target in targets_with(discovery, &placed) {
        let desired = match (provided.get(&target), &observed.backup) {
            (Some(p), _) => Desired::Write(p),
            (None, Some(backup)) => match backup.get(&target) {
                Some(copy) => Desired::Restore(copy),
                None => Desired::Absent,
            },
            // No backup yet: plugins as they are will be the backup.
            (None, None) => Desired::AsItIs,
        };
        reconcile(&mut plan, observed, target, desired);
    }
    // Already in order: the map's own sort only checks it.
    plan.provided = provided
        .into_iter()
        .map(|(target, p)| (target.into_path_buf(), p))
        .collect();
    plan
}

/// The plan of `rollback`: give every touched target its backup content back, archive
/// what the backup does not have, and hide every patch and service pack directory so the
/// server does not re-apply them. `None` when there is no backup.
pub fn plan_rollback(
    discovery: &Discovery,
    observed: &Observed,
    hide: Vec<PathBuf>,
) -> Option<Plan> {
    let backup = observed.backup.as_ref()?;
    let placed = observed.recorded.placed();
    let mut plan = Plan {
        applied_list: vec![layout::BACKUP_NAME.to_string()],
        foreign: foreign(observed, &BTreeMap::new(), &placed),
        hide,
        ..Plan::default()
    };
    for target in targets_with(discovery, &placed) {
        let desired = match backup.get(&target) {
            Some(copy) => Desired::Restore(copy),
            None => Desired::Absent,
        };
        reconcile(&mut plan, observed, target, desired);
    }
    Some(plan)
}

enum Desired<'a> {
    Write(&'a Provided),
    Restore(&'a Present),
    AsItIs,
    Absent,
}

/// Compares one target's desired content with what plugins hold and records the action.
fn reconcile(plan: &mut Plan, observed: &Observed, target: Target, desired: Desired<'_>) {
    let old = observed.plugins.get(&target).copied();
    // Old content the backup does not hold exists nowhere else: it is archived. Without a
    // backup yet, plugins as they are will be the backup.
    let keep_old = old.is_some_and(|old| {
        observed
            .backup
            .as_ref()
            .is_some_and(|backup| !backup.get(&target).is_some_and(|b| old.same_as(b)))
    });
    let kind = match desired {
        Desired::Write(p) if old.is_some_and(|o| o.holds(p.size, p.md5)) => None,
        Desired::Write(p) => Some(ActionKind::Write {
            entry: p.entry.clone(),
            source: p.source.clone(),
            md5: p.md5,
        }),
        Desired::Restore(copy) if old.is_some_and(|o| o.same_as(copy)) => None,
        Desired::Restore(copy) => Some(ActionKind::Restore { md5: copy.md5 }),
        Desired::AsItIs | Desired::Absent if old.is_none() => return,
        Desired::AsItIs => None,
        Desired::Absent => Some(ActionKind::Archive),
    };
    match kind {
        Some(kind) => plan.actions.push(Action {
            target: target.into_path_buf(),
            kind,
            old,
            keep_old,
        }),
        None => plan.unchanged.push(target.into_path_buf()),
    }
}

/// Files in plugins that are not in the backup, not provided and not placed by an earlier apply.
fn foreign(
    observed: &Observed,
    provided: &BTreeMap<Target, Provided>,
    placed: &BTreeMap<Target, Option<String>>,
) -> Vec<PathBuf> {
    let Some(backup) = &observed.backup else {
        return Vec::new();
    };
    observed
        .plugins
        .keys()
        .filter(|t| {
            !backup.contains_key(*t) && !provided.contains_key(*t) && !placed.contains_key(*t)
        })
        .map(|t| t.as_path().to_path_buf())
        .collect()
}

/// Changes since the last apply, in the runtime's terms: new and reverted entries from the
/// applied list, then changed, added and removed bundles of entries applied before.
fn events(
    discovery: &Discovery,
    recorded: &Recorded,
    provided: &BTreeMap<Target, Provided>,
    placed: &BTreeMap<Target, Option<String>>,
) -> Vec<Event> {
    let new_event = |name: &str, kind: EntryKind| match kind {
        EntryKind::ServicePack => Event::NewServicePack(name.to_string()),
        EntryKind::Patch => Event::NewPatch(name.to_string()),
    };
    let Some(previous) = recorded.applied() else {
        return discovery
            .order()
            .map(|e| new_event(&e.name, e.kind))
            .collect();
    };
    let previous: Vec<&str> = previous
        .iter()
        .map(String::as_str)
        .filter(|n| *n != layout::BACKUP_NAME)
        .collect();
    let current: Vec<&str> = discovery.order().map(|e| e.name.as_str()).collect();
    let mut events: Vec<Event> = previous
        .iter()
        .filter(|name| !current.contains(name))
        .map(|name| Event::Reverted(name.to_string()))
        .collect();
    let new: Vec<&str> = current
        .iter()
        .copied()
        .filter(|name| !previous.contains(name))
        .collect();
    events.extend(
        discovery
            .order()
            .filter(|e| new.contains(&e.name.as_str()))
            .map(|e| new_event(&e.name, e.kind)),
    );

    // A bundle change is news only when neither its new provider is a new entry nor its
    // previous provider a reverted one: those events already explain it.
    let reverted = |target: &Target, events: &[Event]| {
        placed
            .get(target)
            .cloned()
            .flatten()
            .is_some_and(|e| events.contains(&Event::Reverted(e)))
    };
    if let Some(jars) = &recorded.jars {
        for (target, p) in provided
            .iter()
            .filter(|(_, p)| !new.contains(&p.entry.as_str()))
        {
            match jars.jars.get(target) {
                Some(md5) if *md5 == p.md5 || reverted(target, &events) => {}
                Some(_) => events.push(Event::Updated(target.as_path().to_path_buf())),
                None => events.push(Event::Added(target.as_path().to_path_buf())),
            }
        }
    }
    for target in placed.keys() {
        if !provided.contains_key(target) && !reverted(target, &events) {
            events.push(Event::Removed(target.as_path().to_path_buf()));
        }
    }
    events
}

#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod tests;
