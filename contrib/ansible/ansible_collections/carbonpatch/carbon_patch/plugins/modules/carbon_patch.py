#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: carbon-patch contributors
# Licensed under the Apache License 2.0 (see the LICENSE file of the carbon-patch repository)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: carbon_patch
short_description: Apply, verify or roll back the patch level of a WSO2 Carbon 4.x product with carbon-patch
version_added: "0.1.0"
description:
  - Runs the C(carbon-patch) binary installed on the managed host with C(--format json) and
    maps its JSON document (the carbon-patch repository's C(docs/json.md)) to an Ansible result.
  - O(state=applied) backs up C(repository/components/plugins) to C(patch0000) once, applies
    the latest service pack and every patch not covered by it, and checks what it wrote
    (C(carbon-patch apply)); with O(archives) it first installs those WSO2 patch archives
    (C(carbon-patch add), which applies afterwards).
  - O(state=verified) checks, read-only, that plugins hold exactly what the patch level says
    (C(carbon-patch verify)), and fails with the problems when they do not.
  - O(state=rolled_back) returns plugins to the C(patch0000) backup and sets every patch and
    service pack aside (C(carbon-patch rollback)).
  - The server must be stopped while its tree changes; carbon-patch refuses (rc 3) while
    C(wso2carbon.pid) names a running process, unless O(force=true).
  - Nothing beyond the Python standard library is needed on the managed host; the
    C(carbon-patch) binary must be installed there (the C(carbonpatch.carbon_patch.carbon_patch)
    role can install it).
author:
  - carbon-patch contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Runs C(carbon-patch plan) (O(state=applied)), C(carbon-patch check) and C(carbon-patch plan)
        (O(state=applied) with O(archives)) or C(carbon-patch rollback --dry-run)
        (O(state=rolled_back)), which change nothing, and reports whether the real run would change the tree.
  diff_mode:
    support: full
    details:
      - Shows the applied list (C(prePatchedDir.txt), or C(prePatched.txt) on Carbon 4.2) before and after,
        and every file changed with its MD5 before and after.
      - In check mode with O(archives), the plugins files that the new archives' patches will
        write are not known before they are added; their resource files and patch directories are shown.
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(applied) brings the product to its patch level (C(carbon-patch apply), or C(carbon-patch add)
        with O(archives)).
      - V(verified) only checks it (C(carbon-patch verify)); never changes anything.
      - V(rolled_back) restores the C(patch0000) backup (C(carbon-patch rollback)); fails when
        there is no backup (the product was never patched).
    type: str
    choices: [applied, verified, rolled_back]
    default: applied
  product_home:
    description:
      - The product home on the managed host (the directory holding C(repository/)).
    type: path
    required: true
  archives:
    description:
      - WSO2 patch archives (C(WSO2-CARBON-PATCH-<kernel>-<NNNN>.zip), or directories of the same
        shape) on the managed host, installed with C(carbon-patch add) before applying.
      - An archive installed already is not installed again (then nothing changes for it).
      - Only with O(state=applied).
    type: list
    elements: path
    default: []
  force:
    description:
      - Go on even though C(wso2carbon.pid) names a running process; with O(archives), also
        install a patch whose C(Applies To) names another kernel.
      - Not used by O(state=verified).
    type: bool
    default: false
  wait:
    description:
      - How long, in seconds, to wait for another carbon-patch run's lock on the product before
        failing (C(--wait)). carbon-patch's default (5 seconds) when not set.
    type: float
  binary:
    description:
      - The carbon-patch executable on the managed host, a path or a name looked up in E(PATH)
        (and C(/usr/local/bin)).
    type: path
    default: carbon-patch
  keep_root:
    description:
      - Run as root even when the product's plugins belong to another user (C(--keep-root)).
        By default carbon-patch, started as root (C(become=true)), becomes the owner of plugins
        before it reads the tree, so the files it writes belong to the server's account.
    type: bool
    default: false
notes:
  - C(changed) is true only when the product tree changed (a file written, restored or
    archived in plugins, a patch found new or reverted, the backup created, an archive
    installed, a patch directory set aside). carbon-patch appends to C(patches.log) and its
    history at every C(apply), also when nothing else changes; that alone is not a change.
  - Any exit code other than 0 fails the task (1 problems found, 2 bad input with nothing
    changed, 3 could not run), with carbon-patch's error message and hint.
"""

EXAMPLES = r"""
- name: Bring the product to its patch level
  carbonpatch.carbon_patch.carbon_patch:
    product_home: /opt/wso2am-2.6.0
  become: true

- name: Install two WSO2 patch archives copied to the host, then apply
  carbonpatch.carbon_patch.carbon_patch:
    product_home: /opt/wso2am-2.6.0
    archives:
      - /var/tmp/WSO2-CARBON-PATCH-4.4.0-0016.zip
      - /var/tmp/WSO2-CARBON-PATCH-4.4.0-0017.zip
  register: patched

- name: Show the steps the patch READMEs leave to a person
  ansible.builtin.debug:
    var: patched.manual_steps
  when: patched.manual_steps | length > 0

- name: Check that plugins hold exactly the patch level (read-only)
  carbonpatch.carbon_patch.carbon_patch:
    product_home: /opt/wso2am-2.6.0
    state: verified

- name: Return to the original plugins
  carbonpatch.carbon_patch.carbon_patch:
    product_home: /opt/wso2am-2.6.0
    state: rolled_back
    binary: /usr/local/bin/carbon-patch
    wait: 30
"""

RETURN = r"""
report:
  description:
    - The JSON document carbon-patch printed (docs/json.md), for the command the task ran
      C(apply), C(add), C(verify) or C(rollback); in check mode C(plan) (its C(command) is
      C(apply), with C(dry_run) true), C(check) or C(rollback --dry-run).
    - On failure too, when carbon-patch printed one (it then holds C(error)).
  returned: when carbon-patch printed a JSON document
  type: dict
  sample:
    schema_version: 1
    command: apply
    exit_code: 0
    backup: created
    counts: {written: 8, restored: 0, archived: 0, unchanged: 0}
plan:
  description: The C(carbon-patch plan) document of a check-mode run with O(archives) (the report is C(check)'s).
  returned: check mode with O(archives)
  type: dict
cmd:
  description: The command line run (the last one, when several ran).
  returned: always
  type: list
  elements: str
  sample: [/usr/local/bin/carbon-patch, apply, --format, json, /opt/wso2am-2.6.0]
rc:
  description: carbon-patch's exit code (0 done, 1 problems, 2 bad input and nothing changed, 3 could not run).
  returned: always
  type: int
  sample: 0
manual_steps:
  description:
    - What the READMEs of the archives installed by this run (in check mode, to be installed)
      ask that cannot be automated, in their own words, each prefixed by the Patch ID.
  returned: when O(archives) is given
  type: list
  elements: str
  sample: ["WSO2-CARBON-PATCH-4.4.9-0006: (v) Add <Property ...> to carbon.xml if you changed it yourself."]
problems:
  description: The problems carbon-patch found (verification problems, failed pre-flight checks).
  returned: failure with rc 1
  type: list
  elements: str
hint:
  description: carbon-patch's hint saying what to do about the error.
  returned: failure, when carbon-patch gave one
  type: str
  sample: replace the file with an intact copy of the jar, or remove it
error:
  description: The C(error) object of carbon-patch's document (C(message), C(causes), C(hint)).
  returned: failure with rc 2 or 3, when carbon-patch printed a document
  type: dict
stderr:
  description: What carbon-patch printed on stderr (its warnings and, on failure, C(error:)/C(hint:) lines).
  returned: failure
  type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule


ACTIONS_CHANGING = ("written", "restored", "archived")


def apply_changes(doc):
    """Whether an apply (or plan) document changed (would change) the tree."""
    if not doc:
        return False
    counts = doc.get("counts") or {}
    if sum(int(counts.get(key) or 0) for key in ACTIONS_CHANGING) > 0:
        return True
    if doc.get("changes"):
        return True
    return doc.get("backup") in ("created", "create")


def add_changes(doc):
    """Whether an add document changed the tree: an archive added, or the apply after it."""
    if not doc:
        return False
    if any(a.get("state") == "added" for a in doc.get("archives") or []):
        return True
    return apply_changes(doc.get("apply"))


def check_changes(check_doc, plan_doc):
    """Whether `add` would change the tree: an archive to add, or an apply with work to do."""
    if any(a.get("state") == "would_add" for a in (check_doc or {}).get("archives") or []):
        return True
    return apply_changes(plan_doc)


def rollback_changes(doc):
    return bool(doc) and not doc.get("nothing_to_do", False)


def sorted_names(names):
    """Byte-wise name order, the server's."""
    return sorted(set(names), key=lambda name: name.encode("utf-8", "surrogateescape"))


class CarbonPatch(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.home = self.params["product_home"]
        self.binary = self.find_binary()
        self.cmd = []
        self.warned = set()

    def find_binary(self):
        binary = self.params["binary"]
        if "/" in binary:
            if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
                self.module.fail_json(
                    msg="carbon-patch binary %s is not an executable file" % binary,
                    cmd=[], rc=None,
                )
            return binary
        found = self.module.get_bin_path(binary, required=False, opt_dirs=["/usr/local/bin"])
        if not found:
            self.module.fail_json(
                msg="%s was not found in PATH or /usr/local/bin on the managed host; install it "
                "(the carbonpatch.carbon_patch.carbon_patch role can) or set binary to its path" % binary,
                cmd=[], rc=None,
            )
        return found

    def global_options(self):
        options = ["--format", "json"]
        if self.params["wait"] is not None:
            options += ["--wait", repr(float(self.params["wait"]))]
        if self.params["keep_root"]:
            options.append("--keep-root")
        return options

    def run(self, subcommand, args=None, extra=None, fail_on=(1, 2, 3), changed_on_failure=None):
        """Runs `carbon-patch <subcommand> [extra] --format json ... [args] <home>` and returns
        (rc, document). Fails the task when rc is in fail_on (and whenever the output is not
        a JSON document)."""
        argv = [self.binary] + subcommand + list(extra or []) + self.global_options()
        argv += list(args or []) + [self.home]
        self.cmd = argv
        rc, out, err = self.module.run_command(argv, check_rc=False)
        doc = None
        try:
            doc = json.loads(out) if out.strip() else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            self.module.fail_json(
                msg="carbon-patch printed no JSON document (rc %s): %s" % (rc, (err or out).strip()),
                rc=rc, cmd=argv, stderr=err, stdout=out,
            )
        self.forward_warnings(doc)
        if rc != 0 and (rc in fail_on or rc not in (1, 2, 3)):
            self.fail(rc, doc, err, changed_on_failure)
        return rc, doc

    def forward_warnings(self, doc):
        for warning in doc.get("warnings") or []:
            if warning not in self.warned:
                self.warned.add(warning)
                self.module.warn("carbon-patch: %s" % warning)

    def fail(self, rc, doc, err, changed_on_failure=None):
        result = dict(rc=rc, cmd=self.cmd, report=doc, stderr=err)
        if changed_on_failure is not None:
            result["changed"] = bool(changed_on_failure(doc))
        error = doc.get("error")
        if error:
            message = error.get("message") or "carbon-patch failed"
            causes = [c for c in error.get("causes") or [] if c]
            if causes:
                message += " (caused by: %s)" % "; ".join(causes)
            hint = error.get("hint")
            if hint:
                message += ". hint: %s" % hint
                result["hint"] = hint
            result["error"] = error
            self.module.fail_json(msg=message, **result)
        problems = problems_of(doc)
        result["problems"] = problems
        what = {
            "verify": "verification found",
            "check": "the pre-flight check found",
        }.get(doc.get("command"), "carbon-patch %s found" % doc.get("command"))
        message = "%s %d problem(s): %s" % (what, len(problems), "; ".join(problems) or "(none listed)")
        self.module.fail_json(msg=message, **result)

    # ------------------------------------------------------------------ diff
    def applied_list(self):
        """The applied list's lines, read from the product where the runtime reads it:
        prePatchedDir.txt (4.4+), else prePatched.txt (4.2); [] when neither exists."""
        saved = self.cmd
        argv = [self.binary, "status"] + self.global_options() + [self.home]
        rc, out, dummy = self.module.run_command(argv, check_rc=False)
        self.cmd = saved
        layout = {}
        try:
            layout = (json.loads(out) or {}).get("layout") or {}
        except ValueError:
            layout = {}

        def place(key, default):
            return os.path.join(self.home, layout.get(key) or default)

        patches_source = ((layout.get("sources") or {}).get("patches") or {}).get("from", "default")
        if patches_source == "default":
            metadata = os.path.join(place("repository", "repository"), "components", "patches", ".metadata")
        else:
            metadata = os.path.join(place("patches", "repository/components/patches"), ".metadata")
        candidates = [
            os.path.join(metadata, "prePatchedDir.txt"),
            os.path.join(place("components", "repository/components"), "default", "configuration", "prePatched.txt"),
        ]
        for candidate in candidates:
            if os.path.isfile(candidate):
                try:
                    with open(candidate, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except (IOError, OSError):
                    continue
                return [line.strip() for line in text.splitlines() if line.strip()]
        return []

    def diff(self, before_list, after_list, file_lines):
        before_files, after_files = file_lines
        label = "%s: applied list (prePatchedDir.txt)" % self.home
        files = "%s: files" % self.home
        return [
            dict(
                before_header=label, after_header=label,
                before=text(before_list), after=text(after_list),
            ),
            dict(
                before_header=files, after_header=files,
                before=text(before_files), after=text(after_files),
            ),
        ]


def text(lines):
    return "".join("%s\n" % line for line in lines)


def md5_text(md5, size=None):
    if md5:
        return md5
    if size is not None:
        return "(MD5 not read, %d bytes)" % size
    return "(not read)"


def file_changes(doc):
    """(before, after) lines of the files an apply/rollback document changed (or would)."""
    before, after = [], []
    if not doc:
        return before, after
    for action in doc.get("actions") or []:
        target = "plugins/%s" % action.get("target")
        kind = action.get("action")
        old_present = action.get("old_size") is not None or action.get("old_md5") is not None
        if old_present:
            before.append("%s  %s" % (target, md5_text(action.get("old_md5"), action.get("old_size"))))
        if kind == "write":
            after.append("%s  %s" % (target, md5_text(action.get("new_md5"))))
        elif kind == "restore":
            after.append("%s  %s" % (target, action.get("new_md5") or "(the patch0000 backup's copy)"))
        elif kind == "archive" and action.get("archived_to"):
            after.append("%s  %s" % (action.get("archived_to"), md5_text(action.get("old_md5"), action.get("old_size"))))
    for moved in doc.get("moved") or []:
        source = moved.get("from") or ""
        # A dry run does not say where it would go: `.rolled-back/` beside it (a name taken
        # there already gets a `~2` suffix).
        destination = moved.get("to") or os.path.join(os.path.dirname(source), ".rolled-back", os.path.basename(source))
        before.append("%s/" % source)
        after.append("%s/" % destination)
    return sorted(before), sorted(after)


def resource_changes(archives, states):
    before, after = [], []
    for archive in archives or []:
        if archive.get("state") not in states:
            continue
        for resource in archive.get("resources") or []:
            if resource.get("before"):
                before.append("%s  %s" % (resource.get("path"), resource.get("before")))
            after.append("%s  %s" % (resource.get("path"), resource.get("after")))
    return before, after


def merge(*pairs):
    before, after = [], []
    for b, a in pairs:
        before += b
        after += a
    return sorted(before), sorted(after)


def predicted_applied_list(plan_doc, extra_patches=()):
    """The applied list an apply would record: the service pack, then every patch not covered
    (patch0000 included) in byte-wise name order."""
    if not plan_doc:
        return []
    patches = [e.get("name") for e in plan_doc.get("apply_order") or [] if e.get("kind") == "patch"]
    patches += list(extra_patches) + ["patch0000"]
    service_pack = plan_doc.get("service_pack")
    return ([service_pack] if service_pack else []) + sorted_names(p for p in patches if p)


def problems_of(doc):
    command = doc.get("command")
    if command == "verify":
        return [p.get("message") or "" for p in doc.get("problems") or []]
    if command == "check":
        return ["%s: %s" % (f.get("check"), f.get("message")) for f in doc.get("findings") or []
                if f.get("severity") == "error"]
    apply_doc = doc.get("apply") if command in ("add", "remove") else doc
    verification = (apply_doc or {}).get("verification") or {}
    return list(verification.get("problems") or [])


def manual_steps(archives, states):
    steps = []
    for archive in archives or []:
        if archive.get("state") in states:
            for step in archive.get("manual_steps") or []:
                steps.append("%s: %s" % (archive.get("id"), step))
    return steps


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="applied", choices=["applied", "verified", "rolled_back"]),
            product_home=dict(type="path", required=True),
            archives=dict(type="list", elements="path", default=[]),
            force=dict(type="bool", default=False),
            wait=dict(type="float"),
            binary=dict(type="path", default="carbon-patch"),
            keep_root=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    state = module.params["state"]
    archives = module.params["archives"] or []
    force = ["--force"] if module.params["force"] else []
    if archives and state != "applied":
        module.fail_json(msg="archives can only be installed with state=applied, not state=%s" % state)
    if module.params["wait"] is not None and module.params["wait"] < 0:
        module.fail_json(msg="wait must be 0 or more seconds, not %s" % module.params["wait"])

    tool = CarbonPatch(module)
    check, want_diff = module.check_mode, module._diff
    result = dict(changed=False)

    if state == "verified":
        rc, doc = tool.run(["verify"])
        module.exit_json(changed=False, rc=rc, cmd=tool.cmd, report=doc)

    before_list = tool.applied_list() if want_diff else []

    if state == "rolled_back":
        if check:
            rc, doc = tool.run(["rollback", "--dry-run"], extra=force)
        else:
            rc, doc = tool.run(["rollback"], extra=force, changed_on_failure=rollback_changes)
        result.update(changed=rollback_changes(doc), rc=rc, cmd=tool.cmd, report=doc)
        if want_diff:
            after_list = ["patch0000"] if check and result["changed"] else (
                before_list if check else tool.applied_list())
            result["diff"] = tool.diff(before_list, after_list, file_changes(doc))
        module.exit_json(**result)

    # state == applied
    if not archives:
        if check:
            rc, doc = tool.run(["plan"])
        else:
            rc, doc = tool.run(["apply"], extra=force, changed_on_failure=apply_changes)
        result.update(changed=apply_changes(doc), rc=rc, cmd=tool.cmd, report=doc)
        if want_diff:
            after_list = predicted_applied_list(doc) if check else tool.applied_list()
            if check and not result["changed"]:
                after_list = before_list
            result["diff"] = tool.diff(before_list, after_list, file_changes(doc))
        module.exit_json(**result)

    if check:
        # `check` exits 1 when a pre-flight check fails; with force, the ones `add --force`
        # overrides (another kernel, a running server) are only warnings.
        rc, check_doc = tool.run(["check"], args=archives, fail_on=(2, 3))
        if rc == 1:
            overridable = ("applicability", "server") if force else ()
            blocking = [f for f in check_doc.get("findings") or []
                        if f.get("severity") == "error" and f.get("check") not in overridable]
            if blocking:
                tool.fail(rc, check_doc, "")
        check_cmd = tool.cmd
        rc_plan, plan_doc = tool.run(["plan"])
        changed = check_changes(check_doc, plan_doc)
        result.update(
            changed=changed, rc=rc, cmd=check_cmd, report=check_doc, plan=plan_doc,
            manual_steps=manual_steps(check_doc.get("archives"), ("would_add",)),
        )
        if want_diff:
            new_dirs = [a.get("patch_dir") for a in check_doc.get("archives") or []
                        if a.get("state") == "would_add"]
            after_list = predicted_applied_list(plan_doc, new_dirs) if changed else before_list
            patch_dirs = ([], ["repository/components/patches/%s/" % d for d in new_dirs if d])
            files = merge(file_changes(plan_doc), resource_changes(check_doc.get("archives"), ("would_add",)), patch_dirs)
            result["diff"] = tool.diff(before_list, after_list, files)
        module.exit_json(**result)

    rc, doc = tool.run(["add"], args=archives, extra=force, changed_on_failure=add_changes)
    steps = manual_steps(doc.get("archives"), ("added",))
    for step in steps:
        module.warn("manual step left to you: %s" % step)
    result.update(changed=add_changes(doc), rc=rc, cmd=tool.cmd, report=doc, manual_steps=steps)
    if want_diff:
        files = merge(file_changes(doc.get("apply")), resource_changes(doc.get("archives"), ("added",)))
        result["diff"] = tool.diff(before_list, tool.applied_list(), files)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
