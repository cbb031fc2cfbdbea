//! Who carbon-patch runs as (SPEC §12). Started as root on a product whose plugins belong
//! to another user, it becomes that user — uid, primary gid and supplementary groups —
//! before it opens anything of the tree, so every file it writes is owned as the server
//! would own it, and it reaches only what that account already reaches: a file the
//! server's account cannot read can never be copied into plugins. `--keep-root` opts out.
//! Every report says who ran ([`RunAs`]).

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layout::Layout;

/// Set once the process has become the owner of the product.
static SWITCHED: AtomicBool = AtomicBool::new(false);

/// The user a run ran as, for its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    /// The user's name, or the uid when it has none.
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// Whether carbon-patch, started as root, switched to the product's owner.
    pub switched: bool,
}

/// The user this process runs as now.
pub fn current() -> RunAs {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    RunAs {
        user: account(uid).map_or_else(|| uid.to_string(), |a| a.name),
        uid,
        gid,
        switched: SWITCHED.load(Ordering::Relaxed),
    }
}

impl std::fmt::Display for RunAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (uid {}, gid {})", self.user, self.uid, self.gid)?;
        if self.switched {
            f.write_str(", the owner of plugins; carbon-patch was started as root")?;
        }
        Ok(())
    }
}

/// Started as root (and without `keep_root`), becomes the owner of plugins when that is
/// another user. Called right after the product home was opened (its start scripts read,
/// [`check_scripts`]), before anything else in it is read.
pub fn become_owner(layout: &Layout, keep_root: bool) -> Result<()> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    if keep_root {
        return check_scripts(layout, 0);
    }
    let owner = layout
        .tree
        .lstat(&layout.plugins)
        .map_err(|e| Error::input("inspect", &layout.plugins, e))?
        .ok_or_else(|| Error::NotCarbonProduct {
            home: layout.home.clone(),
            plugins: layout.plugins.clone(),
        })?;
    check_scripts(layout, owner.uid)?;
    if owner.uid == 0 {
        return Ok(());
    }
    switch_to(owner.uid, owner.gid)
        .map_err(|e| Error::write("switch to the owner of", &layout.plugins, e))?;
    SWITCHED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Started as root, a place a start script moved is taken only from a script that root or
/// `uid` (the user the run writes as) owns: whoever else could edit it would choose where
/// root writes. The scripts are read before the switch (they say where plugins is), by the
/// tree's reader for carbon-patch's own files: no link followed, regular files only, capped.
fn check_scripts(layout: &Layout, uid: u32) -> Result<()> {
    for place in layout.places.from_scripts() {
        let crate::layout::Source::Script {
            script,
            line,
            property,
            owner,
        } = &place.source
        else {
            continue;
        };
        if *owner != 0 && *owner != uid {
            return Err(Error::bad_input(
                layout.home.join(script),
                format!(
                    "refused: line {line} moves a place carbon-patch writes to (-D{property}), \
                     but the script belongs to uid {owner}, neither root nor the user this run \
                     writes as (uid {uid})"
                ),
                "make root or the owner of plugins own the start script if you trust it, or \
                 run carbon-patch as the script's owner; nothing was changed",
            ));
        }
    }
    Ok(())
}

/// Becomes `uid`: its account's primary group and supplementary groups when it has an
/// account, else `gid` (the group of plugins) alone. Real, effective and saved ids all
/// change, so root cannot be taken back.
fn switch_to(uid: u32, gid: u32) -> io::Result<()> {
    let (gid, groups) = match account(uid) {
        Some(account) => {
            let groups = groups_of(&account.c_name, account.gid)?;
            (account.gid, groups)
        }
        None => (gid, vec![gid]),
    };
    let check = |result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    // SAFETY: setgroups reads `groups.len()` ids from a live vector; the id calls take
    // plain integers. glibc applies each to every thread of the process.
    unsafe {
        check(libc::setgroups(groups.len(), groups.as_ptr()))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid))?;
    }
    // SAFETY: plain integer calls.
    let (ruid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if ruid != uid || euid != uid {
        return Err(io::Error::other("the user did not change"));
    }
    // Changing ids makes the process undumpable, which hides /proc/self/fd from it; the
    // tree layer reads there what a handle resolved to. The process now has only the
    // owner's own rights, so it may show the owner its own descriptors.
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) })?;
    Ok(())
}

/// A user account from the system's user database.
struct Account {
    name: String,
    c_name: std::ffi::CString,
    gid: u32,
}

fn account(uid: u32) -> Option<Account> {
    let mut buffer = vec![0 as libc::c_char; 16 << 10];
    let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut found = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes the entry and the strings it points to into `entry` and
    // `buffer`, both live and of the sizes given; `found` is set to `entry` or null.
    let result = unsafe {
        libc::getpwuid_r(
            uid,
            entry.as_mut_ptr(),
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if result != 0 || found.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded and found the entry, so it is initialised, and its name
    // points into `buffer`, NUL-terminated.
    let entry = unsafe { entry.assume_init() };
    let c_name = unsafe { CStr::from_ptr(entry.pw_name) }.to_owned();
    Some(Account {
        name: c_name.to_string_lossy().into_owned(),
        c_name,
        gid: entry.pw_gid,
    })
}

/// The groups of the user `name` whose primary group is `gid` (it included).
fn groups_of(name: &CStr, gid: u32) -> io::Result<Vec<libc::gid_t>> {
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; usize::try_from(count).unwrap_or(64)];
        let mut n = count;
        // SAFETY: getgrouplist writes at most `n` ids into `groups`, which holds `count`,
        // and sets `n` to the number it has (or needs).
        let result = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if result >= 0 {
            groups.truncate(usize::try_from(n).unwrap_or(0));
            return Ok(groups);
        }
        if n <= count || count > 1 << 16 {
            return Err(io::Error::other("cannot list the user's groups"));
        }
        count = n;
    }
}
