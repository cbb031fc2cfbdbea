//! `pack` (issue 17): a reproducible patched product ZIP. The distribution is checked and
//! unpacked into a private directory beside the output ([`crate::pack::unpack`]); the patch
//! archives are added and applied there by `add` and `apply` themselves, and the result
//! verified by `verify`; then what is this build's rather than the product's is left out or
//! dated with the pack's one time ([`crate::pack::settle`]), the record is written, and the
//! tree is zipped under a temporary name beside the output and renamed over it
//! ([`crate::pack::zipwrite`]). The private directory goes in every case.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Output;
use crate::cli::{Command, Config, HomeSource};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::layout::Layout;
use crate::pack::{self, Distribution, PackTime, Record, zipwrite};
use crate::report::{self, pack::PackReport};

/// Runs `pack`.
pub fn run(config: &Config) -> Result<Output> {
    let product = config.home.clone();
    let Some(output) = config.output.clone() else {
        return Err(usage(&product, "no output given"));
    };
    if config.patches_dir.is_some() || config.servicepacks_dir.is_some() {
        return Err(usage(
            &product,
            "--patches-dir and --servicepacks-dir do not apply to pack: it patches its own copy of the distribution",
        ));
    }
    if config.archives.is_empty() {
        return Err(usage(&product, "no patch archive given"));
    }
    // The inputs are the operator's files: read before anything else happens.
    let distribution = Distribution::open(&product)?;
    let mut inputs = vec![(file_name(&product), distribution.newest)];
    for archive in &config.archives {
        inputs.push((file_name(archive), pack::newest_in_archive(archive)?));
    }
    let time = PackTime::choose(std::env::var_os(pack::EPOCH_VARIABLE), &inputs)?;
    let output = destination(&output, &product, &config.archives)?;
    let scratch = Scratch::beside(&output)?;
    tracing::info!(
        "unpacking {} into {}",
        product.display(),
        scratch.path.display()
    );
    let (base_md5, before) = rayon::join(
        || pack::unpack::md5_of_file(&product),
        || distribution.unpack(&scratch.path),
    );
    let (base_md5, before) = (base_md5?, before?);
    let home = scratch.path.join(&distribution.top);
    let inside = Config {
        command: Command::Add,
        home: home.clone(),
        home_source: HomeSource::Argument,
        dry_run: false,
        no_apply: false,
        no_cache: true,
        quiet: true,
        ..config.clone()
    };
    let layout = super::layout(&inside).map_err(|e| match e {
        Error::NotCarbonProduct { .. } => Error::bad_input(
            &product,
            format!(
                "`{top}` is not a Carbon product: the distribution holds no `{top}/repository/components/plugins/`",
                top = distribution.top
            ),
            "give the product's distribution ZIP as WSO2 ships it; nothing was written",
        ),
        other => other,
    })?;
    check_places(&layout, &product)?;
    let added = super::add::run(&inside)?;
    let mut warnings = added.warnings;
    let archives = added.text.into_archives();
    let verified = super::verify::run(&Config {
        command: Command::Verify,
        ..inside.clone()
    })?;
    warnings.extend(verified.warnings);
    let (bundles, problems) = verified.text.verification().unwrap_or_default();
    // The backup first: it lies inside the metadata dir when patches are moved there.
    let summed_up = vec![
        (
            relative(&home, &layout.backup),
            "the backup of plugins, as the distribution held them",
        ),
        (
            relative(&home, &layout.metadata),
            "the runtime's and carbon-patch's records, each listed in the pack's record",
        ),
    ];
    let record_at = layout.metadata.join(pack::RECORD_NAME);
    let record_path = format!("{}/{}", distribution.top, relative(&home, &record_at));
    let verification = report::pack::Verification {
        passed: added.code == exit_codes::SUCCESS && verified.code == exit_codes::SUCCESS,
        bundles,
        problems,
    };
    let items = archives
        .as_ref()
        .map(|a| a.archives.clone())
        .unwrap_or_default();
    if !verification.passed {
        return Ok(Output {
            text: report::pack(
                config,
                PackReport {
                    output: None,
                    record_path,
                    verification,
                    record: None,
                    summed_up,
                    archives: items,
                },
            ),
            warnings,
            code: exit_codes::PROBLEMS,
        });
    }

    let settled = pack::settle(&layout, &before, &time)?;
    let (dirs, files, skipped) = pack::list_tree(&home)?;
    let mut settled = settled;
    settled.left_out.extend(
        skipped
            .iter()
            .map(|p| crate::names::Shown::path(p).to_string()),
    );
    let mut changes = pack::changes(&before, &files);
    let record_relative = relative(&home, &record_at);
    changes.retain(|c| c.path != record_relative);
    let record = Record {
        schema_version: pack::RECORD_SCHEMA_VERSION,
        tool: format!("carbon-patch {}", env!("CARGO_PKG_VERSION")),
        time: time.rfc3339(),
        time_from: time.from.clone(),
        base: pack::Base {
            file: file_name(&product),
            md5: base_md5,
            top: distribution.top.clone(),
        },
        kernel: crate::kernel::detect(&layout).map(|k| k.version),
        apply_order: archives
            .as_ref()
            .and_then(|a| a.apply.as_ref())
            .map(|a| a.order_names())
            .unwrap_or_default(),
        patches: items
            .iter()
            .map(|a| pack::PatchItem {
                id: a.id.clone(),
                patch_dir: a.patch_dir.clone(),
                archive: a.archive.clone(),
                applies_to: a.applies_to.clone(),
                jira: a.jira.clone(),
                manual_steps: a.manual_steps.clone(),
            })
            .collect(),
        files: changes,
        manual_steps: items
            .iter()
            .flat_map(|a| {
                a.manual_steps.iter().map(|step| pack::ManualStep {
                    patch: a.id.clone(),
                    step: step.clone(),
                })
            })
            .collect(),
        settled,
    };
    let bytes = crate::metadata::render_json(&record);
    std::fs::write(&record_at, &bytes)
        .and_then(|()| std::fs::set_permissions(&record_at, std::fs::Permissions::from_mode(0o644)))
        .map_err(|e| Error::write("write", &record_at, e))?;

    let top = distribution.top.as_bytes();
    let name = |relative: &Path, dir: bool| {
        let mut name = top.to_vec();
        name.push(b'/');
        name.extend_from_slice(relative.as_os_str().as_bytes());
        if dir {
            name.push(b'/');
        }
        name
    };
    let mut entries = vec![zipwrite::Item {
        name: [top, b"/"].concat(),
        file: None,
    }];
    entries.extend(dirs.iter().map(|d| zipwrite::Item {
        name: name(d, true),
        file: None,
    }));
    entries.extend(
        files
            .iter()
            .filter(|f| home.join(&f.relative) != record_at)
            .map(|f| zipwrite::Item {
                name: name(&f.relative, false),
                file: Some(zipwrite::Source {
                    path: home.join(&f.relative),
                    size: f.size,
                    md5: f.md5,
                    executable: f.executable,
                }),
            }),
    );
    entries.push(zipwrite::Item {
        name: name(Path::new(&record_relative), false),
        file: Some(zipwrite::Source {
            path: record_at.clone(),
            size: bytes.len() as u64,
            md5: crate::digest::Md5Digest::of_bytes(&bytes),
            executable: false,
        }),
    });
    tracing::info!("writing {} entries", entries.len());
    let temporary = scratch.path.join(crate::tree::temp_name());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(|e| Error::write("create", &temporary, e))?;
    let summary = zipwrite::write(&file, &temporary, entries, time.dos())?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::write("write", &temporary, e))?;
    drop(file);
    std::fs::rename(&temporary, &output).map_err(|e| Error::write("rename into", &output, e))?;
    let parent = parent_of(&output);
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::write("sync", parent, e))?;
    drop(scratch);
    Ok(Output {
        text: report::pack(
            config,
            PackReport {
                output: Some(report::pack::Written {
                    path: crate::names::Shown::path(&output).to_string(),
                    bytes: summary.bytes,
                    entries: summary.entries,
                }),
                record_path,
                verification,
                record: Some(record),
                summed_up: summed_up.clone(),
                archives: items,
            },
        ),
        warnings,
        code: exit_codes::SUCCESS,
    })
}

fn usage(product: &Path, message: &str) -> Error {
    Error::bad_input(
        product,
        message,
        "carbon-patch pack PRODUCT_ZIP ARCHIVE|DIR... -o OUT.zip",
    )
}

fn file_name(path: &Path) -> String {
    crate::names::Shown::path(path.file_name().map_or(path, Path::new)).to_string()
}

fn relative(home: &Path, path: &Path) -> String {
    crate::names::Shown::path(path.strip_prefix(home).unwrap_or(path)).to_string()
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks `-o`: a file name in an existing directory, not a directory itself, not one of
/// the inputs (not even through a link), not inside a directory archive. Returns it.
fn destination(output: &Path, product: &Path, archives: &[PathBuf]) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::bad_input(
            output,
            format!("refused as the output: {why}"),
            "name a new file (or an old pack to replace) outside the inputs with -o; nothing was written",
        )
    };
    if output
        .file_name()
        .is_none_or(|n| n.is_empty() || n == "." || n == "..")
    {
        return Err(refuse("it names no file"));
    }
    let parent = parent_of(output);
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        _ => return Err(refuse("its directory does not exist")),
    }
    if std::fs::symlink_metadata(output).is_ok_and(|m| m.is_dir()) {
        return Err(refuse("it is a directory"));
    }
    if let Ok(out) = std::fs::metadata(output) {
        for input in std::iter::once(product).chain(archives.iter().map(PathBuf::as_path)) {
            if let Ok(m) = std::fs::metadata(input)
                && (m.dev(), m.ino()) == (out.dev(), out.ino())
            {
                return Err(refuse(&format!(
                    "it is the input `{}`",
                    crate::names::Shown::path(input)
                )));
            }
        }
    }
    let resolved = std::fs::canonicalize(parent)
        .map_err(|e| Error::read("resolve", parent, e))?
        .join(output.file_name().unwrap_or_default());
    for input in std::iter::once(product).chain(archives.iter().map(PathBuf::as_path)) {
        if let Ok(dir) = std::fs::canonicalize(input)
            && dir.is_dir()
            && resolved.starts_with(&dir)
        {
            return Err(refuse(&format!(
                "it lies inside the input `{}`",
                crate::names::Shown::path(input)
            )));
        }
    }
    Ok(output.to_path_buf())
}

/// Refuses a distribution whose start scripts move a place `add` and `apply` write to
/// outside its own directory: the pack writes nowhere but its private copy.
fn check_places(layout: &Layout, product: &Path) -> Result<()> {
    let places = &layout.places;
    for (what, place) in [
        ("components", &places.components),
        ("patches", &places.patches),
        ("servicepacks", &places.servicepacks),
        ("repository", &places.repository),
    ] {
        if !place.path.starts_with(&layout.home) {
            return Err(Error::bad_input(
                product,
                format!(
                    "{what} would lie outside the unpacked product (at `{}`, from {}); pack patches only its own copy",
                    crate::names::Shown::path(&place.path),
                    place.source
                ),
                "build the pack from a distribution whose start scripts keep every place inside it, with CARBON_REPOSITORY unset; nothing was written",
            ));
        }
    }
    Ok(())
}

/// The private directory a pack is built in, beside its output (so the ZIP is renamed
/// into place on the same filesystem); removed when dropped, whatever happened.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn beside(output: &Path) -> Result<Scratch> {
        let parent = parent_of(output);
        let parent = std::path::absolute(parent).map_err(|e| Error::read("resolve", parent, e))?;
        loop {
            let path = parent.join(crate::tree::temp_name());
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Scratch { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::write("create directory", &path, e)),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!("could not remove `{}`: {e}", self.path.display());
        }
    }
}
