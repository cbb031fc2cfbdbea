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

/// A file under plugins or the backup, as read. The digest is only computed for files
/// the plan can touch ([`targets_of_interest`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present {
    /// MD5 of the content, when it was read.
    pub md5: Option<Md5Digest>,
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
    pub fn placed(&self) -> BTreeMap<PathBuf, Option<String>> {
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
                .map(|(target, record)| (target, Some(record.entry.clone()))),
        )
        .collect()
    }
}

/// Everything read from the tree besides discovery.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every file under plugins, by path relative to it.
    pub plugins: BTreeMap<PathBuf, Present>,
    /// Every file in the backup, or `None` when there is no backup yet.
    pub backup: Option<BTreeMap<PathBuf, Present>>,
    /// The metadata.
    pub recorded: Recorded,
}

/// The file the apply order provides for one target: its latest provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provided {
    /// MD5 of the provider's file.
    pub md5: Md5Digest,
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
    /// MD5 of what is there now (`None`: absent).
    pub old: Option<Md5Digest>,
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
    /// Copy the backup's version back.
    Restore { md5: Md5Digest },
    /// Take the file out of plugins into the archive.
    Archive,
}

impl ActionKind {
    /// The MD5 the target has once the action is done (`None`: it is taken out).
    pub fn md5(&self) -> Option<Md5Digest> {
        match self {
            ActionKind::Write { md5, .. } | ActionKind::Restore { md5 } => Some(*md5),
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
        match self {
            Event::NewServicePack(name) => write!(f, "New service pack available - {name}"),
            Event::NewPatch(name) => write!(f, "New patch available - {name}"),
            Event::Reverted(name) => write!(f, "{name} has been reverted"),
            Event::Updated(t) => write!(f, "{} has been updated", t.display()),
            Event::Added(t) => write!(f, "{} has been added", t.display()),
            Event::Removed(t) => write!(f, "{} has been removed", t.display()),
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

/// The targets a plan can touch, so the reader hashes only those: everything the apply
/// order provides and everything an earlier apply placed.
pub fn targets_of_interest(discovery: &Discovery, recorded: &Recorded) -> BTreeSet<PathBuf> {
    targets_with(discovery, &recorded.placed())
}

/// [`targets_of_interest`] with the placed targets already worked out.
fn targets_with(
    discovery: &Discovery,
    placed: &BTreeMap<PathBuf, Option<String>>,
) -> BTreeSet<PathBuf> {
    discovery
        .order()
        .flat_map(|e| e.files.iter().map(|f| f.target.clone()))
        .chain(placed.keys().cloned())
        .collect()
}

/// What the apply order provides: the backup overlaid with each entry in turn, later
/// entries winning (SPEC §5) — here only the overlay, by target.
pub fn provided(discovery: &Discovery) -> BTreeMap<PathBuf, Provided> {
    let mut provided = BTreeMap::new();
    for entry in discovery.order() {
        for file in &entry.files {
            provided.insert(
                file.target.clone(),
                Provided {
                    md5: file.md5,
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
        let desired = match provided.get(&target) {
            Some(p) => Desired::Write(p),
            None => match backup_md5(observed, &target) {
                Some(md5) => Desired::Restore(md5),
                None => Desired::Absent,
            },
        };
        reconcile(&mut plan, observed, target, desired);
    }
    plan.provided = provided;
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
    observed.backup.as_ref()?;
    let placed = observed.recorded.placed();
    let mut plan = Plan {
        applied_list: vec![layout::BACKUP_NAME.to_string()],
        foreign: foreign(observed, &BTreeMap::new(), &placed),
        hide,
        ..Plan::default()
    };
    for target in targets_with(discovery, &placed) {
        let desired = match backup_md5(observed, &target) {
            Some(md5) => Desired::Restore(md5),
            None => Desired::Absent,
        };
        reconcile(&mut plan, observed, target, desired);
    }
    Some(plan)
}

enum Desired<'a> {
    Write(&'a Provided),
    Restore(Md5Digest),
    Absent,
}

/// Compares one target's desired content with what plugins hold and records the action.
fn reconcile(plan: &mut Plan, observed: &Observed, target: PathBuf, desired: Desired<'_>) {
    let old = observed.plugins.get(&target).map(|p| p.md5);
    // A file present but not hashed cannot happen: the reader hashes every target of
    // interest. Treat it as "differs" so the plan stays safe (a needless rewrite, never a miss).
    let old_md5 = old.flatten();
    let keep_old = old.is_some() && old_md5 != backup_md5(observed, &target);
    let kind = match desired {
        Desired::Write(p) if old_md5 == Some(p.md5) => None,
        Desired::Write(p) => Some(ActionKind::Write {
            entry: p.entry.clone(),
            source: p.source.clone(),
            md5: p.md5,
        }),
        Desired::Restore(md5) if old_md5 == Some(md5) => None,
        Desired::Restore(md5) => Some(ActionKind::Restore { md5 }),
        Desired::Absent if old.is_none() => return,
        Desired::Absent => Some(ActionKind::Archive),
    };
    match kind {
        Some(kind) => plan.actions.push(Action {
            target,
            kind,
            old: old_md5,
            keep_old,
        }),
        None => plan.unchanged.push(target),
    }
}

/// The backup's digest for a target: from the backup, or from plugins while there is no
/// backup yet (the backup will be a copy of plugins).
fn backup_md5(observed: &Observed, target: &PathBuf) -> Option<Md5Digest> {
    match &observed.backup {
        Some(backup) => backup.get(target).and_then(|p| p.md5),
        None => observed.plugins.get(target).and_then(|p| p.md5),
    }
}

/// Files in plugins that are not in the backup, not provided and not placed by an earlier apply.
fn foreign(
    observed: &Observed,
    provided: &BTreeMap<PathBuf, Provided>,
    placed: &BTreeMap<PathBuf, Option<String>>,
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
        .cloned()
        .collect()
}

/// Changes since the last apply, in the runtime's terms: new and reverted entries from the
/// applied list, then changed, added and removed bundles of entries applied before.
fn events(
    discovery: &Discovery,
    recorded: &Recorded,
    provided: &BTreeMap<PathBuf, Provided>,
    placed: &BTreeMap<PathBuf, Option<String>>,
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
    let reverted = |target: &PathBuf, events: &[Event]| {
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
                Some(_) => events.push(Event::Updated(target.clone())),
                None => events.push(Event::Added(target.clone())),
            }
        }
    }
    for target in placed.keys() {
        if !provided.contains_key(target) && !reverted(target, &events) {
            events.push(Event::Removed(target.clone()));
        }
    }
    events
}

#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod tests;
