#!/usr/bin/env python3
"""Structural checks of cloud/ for tests/system/t_cloud_templates.sh.

Usage: cloud_checks.py SRC_ROOT
Prints one "ok: ..." line per check that passed and "FAIL: ..." per one that did not;
exits 1 when anything failed. Needs python3-yaml only.
"""
import glob
import json
import os
import re
import sys

import yaml

SRC = os.path.abspath(sys.argv[1])
CLOUD = os.path.join(SRC, "cloud")
PLACEHOLDERS = {"MESHGATE_CONNECT", "MESHGATE_SOURCE", "MESHGATE_REF", "MESHGATE_DEB_URL",
                "MESHGATE_RUN_OPTS"}
CONNECT_PATH = "/etc/meshgate/connect"
failures = 0


def ok(msg):
    print(f"ok: {msg}")


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL: {msg}")


def check(cond, msg):
    (ok if cond else fail)(msg)
    return cond


def rel(path):
    return os.path.relpath(path, SRC)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- a YAML loader that accepts CloudFormation's short-form tags ----
class CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


for _tag in ("Ref", "Sub", "If", "GetAtt", "Equals", "Not", "And", "Or", "Join", "Select",
             "Split", "Base64", "FindInMap", "ImportValue", "GetAZs", "Cidr", "Condition"):
    CfnLoader.add_constructor("!" + _tag, lambda l, n, s=_tag: _cfn_tag(l, s, n))


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


# ---- 1. every file parses ----
def check_parse():
    for path in sorted(glob.glob(os.path.join(CLOUD, "**", "*.json"), recursive=True)):
        try:
            json.loads(read(path))
            ok(f"{rel(path)} parses as JSON")
        except ValueError as e:
            fail(f"{rel(path)} is not valid JSON: {e}")
    for path in sorted(glob.glob(os.path.join(CLOUD, "**", "*.y*ml"), recursive=True)):
        try:
            doc = load_yaml(path)
            check(isinstance(doc, dict), f"{rel(path)} parses as YAML (CloudFormation tags allowed)")
        except yaml.YAMLError as e:
            fail(f"{rel(path)} is not valid YAML: {e}")


# ---- 2. every file says at its top what it creates and what it grants ----
def leading_comments(text, prefix="#"):
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if i == 0 and line.startswith("#!"):
            continue
        if line.startswith(prefix) or (out and not line.strip()):
            out.append(line)
            continue
        break
    return "\n".join(out)


def says_creates_and_grants(text):
    t = text.lower()
    return "creates" in t and "grants" in t


def check_headers():
    files = [p for p in glob.glob(os.path.join(CLOUD, "**", "*"), recursive=True)
             if os.path.isfile(p) and not p.endswith(".md")]
    check(len(files) >= 10, f"cloud/ holds the expected files ({len(files)} besides READMEs)")
    for path in sorted(files):
        text = read(path)
        name = rel(path)
        if path.endswith(".json"):
            doc = json.loads(text)
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            if isinstance(meta, dict) and "creates" in meta and "grants" in meta:
                check(bool(meta.get("description")),
                      f"{name}: top-level metadata says what it is, creates and grants")
            elif "Statement" in doc:
                # an IAM policy document may hold only Version, Id and Statement: its
                # description lives in the README beside it, its Id and Sids name it
                readme = os.path.join(os.path.dirname(path), "README.md")
                check(str(doc.get("Id", "")).startswith("meshgate")
                      and all(s.get("Sid") for s in doc["Statement"])
                      and os.path.basename(path) in read(readme)
                      and says_creates_and_grants(read(readme)),
                      f"{name}: IAM policy with an Id, a Sid per statement, described in {rel(readme)}")
            else:
                fail(f"{name}: no top-level metadata saying what it creates and grants")
        elif path.endswith(".py"):
            m = re.match(r'(#![^\n]*\n)?\s*"""(.*?)"""', text, re.S)
            check(bool(m) and says_creates_and_grants(m.group(2)),
                  f"{name}: docstring at the top says what it creates and grants")
        else:
            header = leading_comments(text)
            check(says_creates_and_grants(header),
                  f"{name}: header comment says what it creates and grants")
        if os.path.basename(path) == "user-data.yaml":
            check(text.startswith("#cloud-config\n"), f"{name}: first line is #cloud-config")


# ---- 3. the user data: placeholders, the connect file, no secret ----
def firstboot_script(doc):
    for wf in doc.get("write_files", []):
        if wf.get("path") == "/usr/local/sbin/meshgate-firstboot":
            return wf.get("content", "")
    return ""


def check_user_data():
    for path in sorted(glob.glob(os.path.join(CLOUD, "*", "user-data.yaml"))):
        name = rel(path)
        text = read(path)
        doc = yaml.safe_load(text)
        found = re.findall(r"\$\{([A-Za-z0-9_:.]+)\}", text)
        check(set(found) == PLACEHOLDERS,
              f"{name}: placeholders are exactly {sorted(PLACEHOLDERS)} (found {sorted(set(found))})")
        check(found.count("MESHGATE_CONNECT") == 1,
              f"{name}: the connection string placeholder appears once (only in the connect file)")
        header = leading_comments(text)
        check("${" not in header, f"{name}: no placeholder in the header comments")
        entries = [w for w in doc.get("write_files", []) if w.get("path") == CONNECT_PATH]
        check(len(entries) == 1, f"{name}: writes {CONNECT_PATH}")
        if entries:
            w = entries[0]
            check(w.get("permissions") == "0600" and w.get("owner") == "root:root",
                  f"{name}: {CONNECT_PATH} is root:root 0600")
            check(w.get("content", "").strip() == "${MESHGATE_CONNECT}",
                  f"{name}: {CONNECT_PATH} holds the connection string and nothing else")
        for w in doc.get("write_files", []):
            if "${MESHGATE_CONNECT}" in str(w.get("content", "")):
                check(w.get("path") == CONNECT_PATH,
                      f"{name}: the connection string is written to {CONNECT_PATH} only")
        script = firstboot_script(doc)
        check(bool(script), f"{name}: writes the first-boot script")
        check(re.search(r"--connect-file \"\$conn\"", script) is not None
              and f"conn={CONNECT_PATH}" in script,
              f"{name}: install.sh gets --connect-file {CONNECT_PATH}")
        check(re.search(r"--connect(?!-file)", text) is None,
              f"{name}: never passes --connect STRING (a command line shows in ps)")
        check("./install.sh" in script and 'shred -u "$conn"' in script,
              f"{name}: runs install.sh from the checkout and shreds the connect file after")
        runcmd = doc.get("runcmd", [])
        check(["/usr/local/sbin/meshgate-firstboot"] in runcmd,
              f"{name}: runcmd runs meshgate-firstboot")
        env = [w for w in doc.get("write_files", []) if w.get("path") == "/etc/meshgate/firstboot.env"]
        check(bool(env) and env[0].get("permissions") == "0600",
              f"{name}: the first-boot settings file is 0600")


def check_no_secrets():
    conn_re = re.compile(r"mg1:[A-Za-z0-9_=-]{8,}")
    key_res = [re.compile(r"AKIA[0-9A-Z]{16}"), re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
               re.compile(r"ssh-(rsa|ed25519) AAAA")]
    mirror_res = re.compile(r"(deb|security|ftp[^.]*)\.debian\.org|archive\.ubuntu\.com|"
                            r"ports\.ubuntu\.com|security\.ubuntu\.com")
    for path in sorted(glob.glob(os.path.join(CLOUD, "**", "*"), recursive=True)):
        if not os.path.isfile(path):
            continue
        text = read(path)
        check(not conn_re.search(text), f"{rel(path)}: no literal connection string")
        check(not any(r.search(text) for r in key_res), f"{rel(path)}: no keys or credentials")
        check(not mirror_res.search(text), f"{rel(path)}: names no package mirror")


# ---- 4. AWS: CloudFormation structure and the IAM policy against the code ----
def code_actions():
    names = set()
    call = re.compile(r'\b(?:aws_ec2_call|route_call)\s*\(\s*[^,()]+,\s*"([A-Za-z0-9]+)"')
    # agent/cloud/*.c and every provider folder under it (agent/cloud/aws/*.c)
    for path in sorted(glob.glob(os.path.join(SRC, "agent", "cloud", "**", "*.c"), recursive=True)):
        names.update(call.findall(read(path)))
    return names


def policy_statements_cfn(cfn):
    role = cfn["Resources"].get("MeshgateRole", {})
    pols = role.get("Properties", {}).get("Policies", [])
    return [s for p in pols for s in p["PolicyDocument"]["Statement"]]


def as_list(v):
    return v if isinstance(v, list) else [v]


def ec2_actions(statements):
    acts = set()
    for s in statements:
        for a in as_list(s.get("Action", [])):
            acts.add(a)
    return acts


def normalize_cfn(value):
    """Fn::Sub ARNs of the stack -> the placeholders of iam-policy.json."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        s = value["Fn::Sub"]
        for k, v in (("${AWS::Partition}", "aws"), ("${AWS::Region}", "REGION"),
                     ("${AWS::AccountId}", "ACCOUNT_ID"), ("${VpcId}", "VPC_ID")):
            s = s.replace(k, v)
        return s
    if isinstance(value, dict):
        return {k: normalize_cfn(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_cfn(v) for v in value]
    return value


def check_policy_scoping(statements, name):
    for s in statements:
        acts = as_list(s["Action"])
        check(all(a.startswith("ec2:") and "*" not in a for a in acts),
              f"{name}: statement {s.get('Sid')} names actions without wildcards")
        check(s.get("Effect") == "Allow", f"{name}: statement {s.get('Sid')} is an Allow")
        if all(a.startswith("ec2:Describe") for a in acts):
            check(s.get("Resource") == "*",
                  f"{name}: {s.get('Sid')}: Describe actions on * (no resource-level permissions)")
        else:
            cond = s.get("Condition", {}).get("StringEquals", {})
            check("ec2:Vpc" in cond, f"{name}: {s.get('Sid')}: mutating actions carry an ec2:Vpc condition")
            check(all(":route-table/" in r or ":network-interface/" in r
                      for r in as_list(normalize_cfn(s.get("Resource")))),
                  f"{name}: {s.get('Sid')}: only route-table / network-interface resources")


def check_aws():
    path = os.path.join(CLOUD, "aws", "meshgate.cfn.yaml")
    cfn = load_yaml(path)
    name = rel(path)
    params = cfn.get("Parameters", {})
    mr = params.get("ManageRoutes", {})
    check(sorted(mr.get("AllowedValues", [])) == ["false", "true"], f"{name}: ManageRoutes is true/false")
    cond = cfn.get("Conditions", {}).get("ManageRoutesOn")
    check(cond == {"Fn::Equals": [{"Ref": "ManageRoutes"}, "true"]},
          f"{name}: condition ManageRoutesOn = (ManageRoutes == true)")
    res = cfn.get("Resources", {})
    for r in ("MeshgateRole", "MeshgateInstanceProfile"):
        check(res.get(r, {}).get("Condition") == "ManageRoutesOn", f"{name}: {r} only when ManageRoutes")
    check(params.get("ConnectionString", {}).get("NoEcho") is True, f"{name}: ConnectionString is NoEcho")
    for p in ("VpcId", "SubnetId", "InstanceType", "KeyName", "ImageId"):
        check(p in params, f"{name}: parameter {p}")
    check(str(params.get("ImageId", {}).get("Type", "")).startswith("AWS::SSM::Parameter::Value")
          and "/aws/service/" in str(params.get("ImageId", {}).get("Default", "")),
          f"{name}: the AMI comes from an SSM public parameter")
    inst = res.get("MeshgateInstance", {}).get("Properties", {})
    check(inst.get("SourceDestCheck") is False, f"{name}: the instance has SourceDestCheck: false")
    check(inst.get("IamInstanceProfile", {}).get("Fn::If", [None])[0] == "ManageRoutesOn",
          f"{name}: the instance profile is attached only when ManageRoutes")
    lt = res.get("MeshgateLaunchTemplate", {}).get("Properties", {}).get("LaunchTemplateData", {})
    check(lt.get("MetadataOptions", {}).get("HttpTokens") == "required", f"{name}: IMDSv2 required")
    sg = res.get("MeshgateSecurityGroup", {}).get("Properties", {})
    check(any(e.get("IpProtocol") == "udp" for e in sg.get("SecurityGroupEgress", [])),
          f"{name}: the security group lets WireGuard (UDP) out to the hub")
    check(all(i.get("CidrIp") != "0.0.0.0/0" for i in sg.get("SecurityGroupIngress", [])),
          f"{name}: nothing is let in from the whole internet")
    sub = inst.get("UserData", {}).get("Fn::Base64", {}).get("Fn::Sub", [None, {}])
    ud = read(os.path.join(CLOUD, "aws", "user-data.yaml"))
    check(sub[0] == ud, f"{name}: UserData is cloud/aws/user-data.yaml verbatim (cloud/sync-user-data.py)")
    check(set(sub[1]) == PLACEHOLDERS, f"{name}: Fn::Sub fills exactly the user data's placeholders")
    check(sub[1].get("MESHGATE_CONNECT") == {"Ref": "ConnectionString"},
          f"{name}: the connection string comes from the NoEcho parameter")

    want = {"ec2:" + a for a in code_actions()}
    check(len(want) >= 5, f"agent/cloud/*.c: found {len(want)} EC2 actions in aws_ec2_call/route_call "
                          f"calls ({', '.join(sorted(want))})")
    cfn_st = policy_statements_cfn(cfn)
    got = ec2_actions(cfn_st)
    check(got == want, f"{name}: the role's policy allows exactly the code's EC2 actions"
                       f" (missing {sorted(want - got)}, extra {sorted(got - want)})")
    check_policy_scoping(cfn_st, name)

    jpath = os.path.join(CLOUD, "aws", "iam-policy.json")
    jdoc = json.loads(read(jpath))
    jgot = ec2_actions(jdoc["Statement"])
    check(jgot == want, f"{rel(jpath)}: allows exactly the code's EC2 actions"
                        f" (missing {sorted(want - jgot)}, extra {sorted(jgot - want)})")
    check_policy_scoping(jdoc["Statement"], rel(jpath))
    check(normalize_cfn(cfn_st) == jdoc["Statement"],
          f"{rel(jpath)}: the same statements as the stack's role (ARNs with REGION/ACCOUNT_ID/VPC_ID)")
    readme = read(os.path.join(CLOUD, "aws", "README.md"))
    check(all(a in readme for a in want), "cloud/aws/README.md explains every action")


# ---- 5. Azure ----
AZURE_TABLE = re.compile(r"\baz_permissions\s*\[[^\]]*\]\s*=\s*\{(.*?)\};", re.S)
AZURE_ACTION = re.compile(r'"(Microsoft\.[A-Za-z]+/[A-Za-z0-9/]+)"')


def azure_code_actions():
    """The string literals of the driver's permission table (agent/cloud/azure/*.c)."""
    acts = []
    for path in sorted(glob.glob(os.path.join(SRC, "agent", "cloud", "azure", "*.c"))):
        for block in AZURE_TABLE.findall(read(path)):
            acts += AZURE_ACTION.findall(block)
    return acts


def check_azure():
    path = os.path.join(CLOUD, "azure", "meshgate.arm.json")
    name = rel(path)
    arm = json.loads(read(path))
    check("deploymentTemplate.json" in arm.get("$schema", ""), f"{name}: an ARM deployment template")
    meta = arm.get("metadata", {})
    check("not implemented" not in meta.get("description", ""),
          f"{name}: metadata does not call the Azure route writer unimplemented")
    code = azure_code_actions()
    want = set(code)
    check(len(want) >= 5 and len(code) == len(want),
          f"agent/cloud/azure/*.c: found {len(want)} ARM actions in az_permissions "
          f"({', '.join(sorted(want))})")
    res = {r["type"]: r for r in arm["resources"]}
    nic = res.get("Microsoft.Network/networkInterfaces", {})
    check(nic.get("properties", {}).get("enableIPForwarding") is True, f"{name}: the NIC has enableIPForwarding: true")
    check("Microsoft.ManagedIdentity/userAssignedIdentities" in res, f"{name}: a user-assigned managed identity")
    rd = res.get("Microsoft.Authorization/roleDefinitions", {}).get("properties", {})
    check(rd.get("type") == "CustomRole", f"{name}: a custom role definition")
    actions = []
    for perm in rd.get("permissions", []):
        a = perm.get("actions")
        if isinstance(a, str) and a.startswith("[variables('"):
            a = arm["variables"][a[len("[variables('"):-len("')]")]]
        actions += a or []
        check(not perm.get("dataActions"), f"{name}: the role has no data actions")
    got = set(actions)
    check(got == want and len(actions) == len(got),
          f"{name}: the custom role allows exactly the driver's ARM actions"
          f" (missing {sorted(want - got)}, extra {sorted(got - want)})")
    check(all("*" not in a for a in actions), f"{name}: no wildcard actions")
    check(meta.get("grants", {}).keys() - {"not granted"} == want,
          f"{name}: metadata.grants justifies each action, and only those")
    check("Microsoft.Authorization/roleAssignments" in res
          and any(r["type"] == "Microsoft.Resources/deployments" for r in arm["resources"]),
          f"{name}: the role is assigned (NIC, and the route tables' resource group)")
    vm = res.get("Microsoft.Compute/virtualMachines", {})
    check(vm.get("identity", {}).get("type") == "UserAssigned", f"{name}: the VM runs with the identity")
    custom = vm.get("properties", {}).get("osProfile", {}).get("customData", "")
    check(custom.startswith("[base64(") and all("'${%s}'" % p in custom for p in PLACEHOLDERS),
          f"{name}: customData is the user data with every placeholder replaced")
    check(arm["variables"].get("userData") == read(os.path.join(CLOUD, "azure", "user-data.yaml")),
          f"{name}: variables.userData is cloud/azure/user-data.yaml verbatim")
    check(arm["parameters"].get("connectionString", {}).get("type") == "secureString",
          f"{name}: connectionString is a secureString")
    readme = read(os.path.join(CLOUD, "azure", "README.md"))
    rows = set(re.findall(r"^\| `(Microsoft\.[^`]+)` \| \S", readme, re.M))
    check(rows == want and "join/action" in readme,
          "cloud/azure/README.md justifies each of the driver's actions in its table, and only those"
          f" (missing {sorted(want - rows)}, extra {sorted(rows - want)}; and the join it leaves out)")


# ---- 6. GCP and Oracle (text checks; the script itself is run by the shell test) ----
def code_gcp_permissions():
    """The string literals of the GCP driver's gcp_permissions[] table."""
    perms = []
    table = re.compile(r"\bgcp_permissions\s*\[[^\]]*\]\s*=\s*\{(.*?)\};", re.S)
    for path in sorted(glob.glob(os.path.join(SRC, "agent", "cloud", "gcp", "*.c"))):
        for body in table.findall(read(path)):
            perms += re.findall(r'"([^"]*)"', body)
    return perms


def check_gcp():
    path = os.path.join(CLOUD, "gcp", "create-instance.sh")
    text = read(path)
    name = rel(path)
    want = code_gcp_permissions()
    check(len(want) >= 3 and len(set(want)) == len(want)
          and all(re.fullmatch(r"compute\.[A-Za-z]+\.[A-Za-z]+", p) for p in want),
          f"agent/cloud/gcp: gcp_permissions[] names {len(want)} distinct compute.* permissions")
    check(re.search(r"instances create .*--can-ip-forward", text, re.S) is not None,
          f"{name}: creates the instance with --can-ip-forward")
    m = re.search(r"ROLE_PERMISSIONS=\(\n(.*?)\n\)", text, re.S)
    perms = m.group(1).split() if m else []
    check(len(perms) == len(set(perms)) and set(perms) == set(want),
          f"{name}: the custom role grants exactly the driver's gcp_permissions[] "
          f"(extra {sorted(set(perms) - set(want))}, missing {sorted(set(want) - set(perms))})")
    check('--permissions "$perms"' in text and 'perms=$(IFS=,; echo "${ROLE_PERMISSIONS[*]}")' in text,
          f"{name}: the role is created and updated with ROLE_PERMISSIONS")
    header = leading_comments(text)
    check(all(re.search(r"^#\s+" + re.escape(p) + r"\s+\S", header, re.M) for p in want),
          f"{name}: the header justifies each permission on its own line")
    readme = read(os.path.join(CLOUD, "gcp", "README.md"))
    check(all(f"`{p}`" in readme for p in want), "cloud/gcp/README.md names each permission")
    check(text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text,
          f"{name}: bash with set -euo pipefail")
    check("meshgate writes the vpc routes to the mesh itself on aws, azure, gcp and\noracle (oci)" in read(os.path.join(CLOUD, "README.md")).lower(),
          "cloud/README.md says which route writers exist (all four)")
    stale = re.compile(r"not implemented|writes no GCP routes|aws only|until the GCP writer", re.I)
    for doc in ("README.md", os.path.join("gcp", "README.md"), os.path.join("gcp", "create-instance.sh")):
        check(not stale.search(read(os.path.join(CLOUD, doc))),
              f"cloud/{doc}: does not say the GCP route writer is missing")


def oci_code_grants():
    """(op, grant, perm) rows of the driver's oci_grants table, and the ops it calls."""
    row = re.compile(r'\{\s*"([A-Za-z]+)"\s*,\s*"((?:read|use|manage|inspect) [a-z-]+)"\s*,\s*"([A-Z_]*)"\s*\}')
    call = re.compile(r'\b(?:oci_call\s*\(\s*[^,()]+|\bget\s*\(\s*p)\s*,\s*"([A-Za-z]+)"')
    rows, ops = set(), set()
    for path in sorted(glob.glob(os.path.join(SRC, "agent", "cloud", "oci", "*.c"))):
        text = read(path)
        rows.update(row.findall(text))
        ops.update(call.findall(text))
    return rows, ops


def grants_of(rows):
    """grant -> set of request.permission narrowing it (empty set: the whole verb)."""
    out = {}
    for _, g, perm in rows:
        cur = out.setdefault(g, set())
        cur.add(perm)
    return {g: (set() if "" in ps else ps) for g, ps in out.items()}


def policy_grants(lines):
    out = {}
    for l in lines:
        m = re.match(r"Allow dynamic-group meshgate-connectors to ((?:read|use|manage|inspect) [a-z-]+) in ", l)
        if not m:
            out.setdefault("<unparsed: " + l + ">", set())
            continue
        perms = set(re.findall(r"request\.permission = '([A-Z_]+)'", l))
        if m.group(1) in out:
            out[m.group(1) + " (twice)"] = perms
        out[m.group(1)] = perms
    return out


def check_oracle():
    path = os.path.join(CLOUD, "oracle", "iam-policy.txt")
    name = rel(path)
    text = read(path)
    allows = [l for l in text.splitlines() if l.startswith("Allow ")]
    rows, ops = oci_code_grants()
    check(len(rows) >= 5, f"agent/cloud/oci/*.c: found {len(rows)} rows of oci_grants")
    missing = ops - {r[0] for r in rows}
    check(not missing, f"agent/cloud/oci/*.c: every OCI operation called has a row in oci_grants"
          + (f" (missing: {sorted(missing)})" if missing else ""))
    want = grants_of(rows)
    have = policy_grants(allows)
    check(want == have, f"{name}: grants exactly the OCI driver's oci_grants"
          + ("" if want == have else f" (code: {want}, policy: {have})"))
    check(all(l.startswith("Allow dynamic-group meshgate-connectors to ") and " in compartment " in l
              for l in allows), f"{name}: every statement is for the dynamic group, in one compartment")
    check(not any(re.search(r"\b(all-resources|virtual-network-family|instance-family)\b", l) or " in tenancy" in l
                  for l in allows), f"{name}: no family-wide or tenancy-wide grants")
    for l in allows:
        if " manage " in l:
            check("request.permission" in l, f"{name}: manage narrowed by request.permission: {l.split(' in ')[0]}")
    check(re.search(r"^(ANY|ALL) \{instance\.(id|compartment\.id) = ", text, re.M) is not None,
          f"{name}: a dynamic-group matching rule")
    readme = read(os.path.join(CLOUD, "oracle", "README.md"))
    check("--skip-source-dest-check true" in readme and "skipSourceDestCheck" in readme,
          "cloud/oracle/README.md launches with --skip-source-dest-check true")
    listed = set(re.findall(r"^- `((?:read|use|manage|inspect) [a-z-]+)`", readme, re.M))
    check(listed == set(want), "cloud/oracle/README.md lists exactly the OCI driver's grants"
          + ("" if listed == set(want) else f" (README: {sorted(listed)}, code: {sorted(want)})"))
    check("not implemented" not in readme.lower() and "writes no OCI" not in readme
          and "future route writer" not in readme, "cloud/oracle/README.md: no 'writer not implemented' wording")


def main():
    check_parse()
    check_headers()
    check_user_data()
    check_no_secrets()
    check_aws()
    check_azure()
    check_gcp()
    check_oracle()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
