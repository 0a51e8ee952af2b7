"""Runs moto's server for one test binary and exits when that binary does.

Prints "PORT <n>" once the server listens on 127.0.0.1 (on a port the OS
chose). Exits when its standard input closes or its parent process changes,
whichever comes first: both happen when the test binary exits, even on a
crash or a kill.
"""

import json
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

import moto.appmesh.exceptions
import moto.appmesh.models
import moto.appmesh.responses
import moto.appmesh.urls
import moto.ec2.models
import moto.s3.responses
import moto.eks.exceptions
import moto.eks.models
import moto.eks.responses
import moto.eks.urls
import moto.vpclattice.exceptions
import moto.vpclattice.responses
from moto.core.exceptions import JsonRESTError
from moto.server import ThreadedMotoServer

# The Cloud Control front (moto_cloudcontrol.py, beside this file) installs
# itself when imported. The launcher runs as a script (tests/support/moto.rs,
# examples/sandbox.rs through it, scripts/bench-refresh), which puts this
# directory first on sys.path; make sure of it for any other way in.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_cloudcontrol  # noqa: E402,F401

APP_MESH_TIME = "%d/%m/%Y, %H:%M:%S"


def _epoch_seconds(value):
    """A moto App Mesh timestamp as the epoch seconds the API returns."""
    if isinstance(value, dict):
        return {k: _epoch_seconds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_seconds(v) for v in value]
    if isinstance(value, str):
        try:
            return datetime.strptime(value, APP_MESH_TIME).timestamp()
        except ValueError:
            return value
    return value


class _AppMeshJson:
    """moto 5.2.5 formats App Mesh `createdAt`/`lastUpdatedAt` with
    strftime("%d/%m/%Y, %H:%M:%S") in the `to_dict` methods of
    moto/appmesh/dataclasses/{mesh,virtual_node,virtual_router,route,
    virtual_gateway,gateway_route}.py, and moto/appmesh/responses.py
    (AppMeshResponse) dumps those dicts as they are. The App Mesh API sends
    epoch seconds, and the Rust SDK refuses the string: rewrite them as the
    responses are serialised."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj, *args, **kwargs):
        return json.dumps(_epoch_seconds(obj), *args, **kwargs)


moto.appmesh.responses.json = _AppMeshJson



def _tag_resource_by_key(self, resource_arn, tags):
    """moto 5.2.5's AppMeshBackend.tag_resource (moto/appmesh/models.py)
    appends the new tags to the list, so a changed value is listed twice,
    the old one first. App Mesh's TagResource adds or overwrites by key."""
    if tags:
        resource = self._get_resource_with_arn(resource_arn=resource_arn)
        merged = {t["key"]: t["value"] for t in resource.tags}
        merged.update({t["key"]: t["value"] for t in tags})
        resource.tags[:] = [{"key": k, "value": v} for k, v in merged.items()]


moto.appmesh.models.AppMeshBackend.tag_resource = _tag_resource_by_key

# ── App Mesh virtual services: an extension of moto, not moto ──────────────
# moto 5.2.5 implements meshes, virtual nodes, routers and routes but no
# virtual services (no URL in moto/appmesh/urls.py, no method on
# AppMeshResponse). This stand-in serves the five VirtualService operations
# with the API's shapes (REST paths and bodies from the App Mesh API
# reference) so a whole mesh can be applied and destroyed in tests. It keeps
# services per mesh (with their tags, for ListTagsForResource and
# TagResource), answers NotFoundException (404) for missing ones and
# ConflictException (409) for a name taken, and refuses a provider that does
# not exist, as App Mesh does.

_VIRTUAL_SERVICES = {}  # (account, region, mesh) -> {name: dict}
_SERVICE_TAGS = {}  # virtual service ARN -> [{"key", "value"}]


class _NotFound(moto.appmesh.exceptions.JsonRESTError):
    code = 404

    def __init__(self, message):
        super().__init__("NotFoundException", message)


class _Conflict(moto.appmesh.exceptions.JsonRESTError):
    code = 409

    def __init__(self, message):
        super().__init__("ConflictException", message)


def _services(response, mesh_name):
    backend = response.appmesh_backend
    if mesh_name not in backend.meshes:
        raise _NotFound(f"There are no meshes with the name {mesh_name}.")
    key = (response.current_account, response.region, mesh_name)
    return backend.meshes[mesh_name], _VIRTUAL_SERVICES.setdefault(key, {})


def _check_provider(mesh, spec):
    provider = spec.get("provider") or {}
    router = (provider.get("virtualRouter") or {}).get("virtualRouterName")
    node = (provider.get("virtualNode") or {}).get("virtualNodeName")
    if router is not None and router not in mesh.virtual_routers:
        raise _NotFound(f"There is no virtual router named {router} in mesh {mesh.mesh_name}.")
    if node is not None and node not in mesh.virtual_nodes:
        raise _NotFound(f"There is no virtual node named {node} in mesh {mesh.mesh_name}.")


def create_virtual_service(self):
    params = json.loads(self.body)
    mesh_name = self._get_param("meshName")
    mesh, services = _services(self, mesh_name)
    name = params.get("virtualServiceName")
    if name in services:
        raise _Conflict(f"There is already a virtual service named {name} in mesh {mesh_name}.")
    spec = params.get("spec") or {}
    _check_provider(mesh, spec)
    now = time.time()
    services[name] = {
        "meshName": mesh_name,
        "virtualServiceName": name,
        "spec": spec,
        "metadata": {
            "arn": f"arn:aws:appmesh:{self.region}:{self.current_account}:mesh/{mesh_name}/virtualService/{name}",
            "createdAt": now,
            "lastUpdatedAt": now,
            "meshOwner": mesh.metadata.mesh_owner,
            "resourceOwner": mesh.metadata.mesh_owner,
            "uid": str(uuid.uuid4()),
            "version": 1,
        },
        "status": {"status": "ACTIVE"},
    }
    _SERVICE_TAGS[services[name]["metadata"]["arn"]] = list(params.get("tags") or [])
    return json.dumps(services[name])


def _one(self):
    mesh_name = self._get_param("meshName")
    name = self._get_param("virtualServiceName")
    mesh, services = _services(self, mesh_name)
    if name not in services:
        raise _NotFound(f"There is no virtual service named {name} in mesh {mesh_name}.")
    return mesh, services, name


def describe_virtual_service(self):
    _, services, name = _one(self)
    return json.dumps(services[name])


def update_virtual_service(self):
    mesh, services, name = _one(self)
    spec = json.loads(self.body).get("spec") or {}
    _check_provider(mesh, spec)
    service = services[name]
    service["spec"] = spec
    service["metadata"]["version"] += 1
    service["metadata"]["lastUpdatedAt"] = time.time()
    return json.dumps(service)


def delete_virtual_service(self):
    _, services, name = _one(self)
    service = services.pop(name)
    _SERVICE_TAGS.pop(service["metadata"]["arn"], None)
    service["status"] = {"status": "DELETED"}
    return json.dumps(service)


def list_virtual_services(self):
    mesh_name = self._get_param("meshName")
    _, services = _services(self, mesh_name)
    refs = [
        {
            "arn": s["metadata"]["arn"],
            "meshName": mesh_name,
            "meshOwner": s["metadata"]["meshOwner"],
            "resourceOwner": s["metadata"]["resourceOwner"],
            "virtualServiceName": s["virtualServiceName"],
            "version": s["metadata"]["version"],
            "createdAt": s["metadata"]["createdAt"],
            "lastUpdatedAt": s["metadata"]["lastUpdatedAt"],
        }
        for s in services.values()
    ]
    return json.dumps({"virtualServices": refs})


_list_tags = moto.appmesh.responses.AppMeshResponse.list_tags_for_resource
_tag_resource = moto.appmesh.responses.AppMeshResponse.tag_resource


def list_tags_for_resource(self):
    arn = self._get_params().get("resourceArn")
    if arn in _SERVICE_TAGS:
        return json.dumps({"nextToken": None, "tags": _SERVICE_TAGS[arn]})
    return _list_tags(self)


def tag_resource(self):
    arn = self._get_param("resourceArn")
    if arn not in _SERVICE_TAGS:
        return _tag_resource(self)
    tags = {t["key"]: t["value"] for t in _SERVICE_TAGS[arn]}
    tags.update({t["key"]: t["value"] for t in json.loads(self.body).get("tags") or []})
    _SERVICE_TAGS[arn] = [{"key": k, "value": v} for k, v in tags.items()]
    return json.dumps({})


for _f in (
    list_tags_for_resource,
    tag_resource,
    create_virtual_service,
    describe_virtual_service,
    update_virtual_service,
    delete_virtual_service,
    list_virtual_services,
):
    setattr(moto.appmesh.responses.AppMeshResponse, _f.__name__, _f)

moto.appmesh.urls.url_paths.update(
    {
        "{0}/v20190125/meshes/(?P<meshName>[^/]+)/virtualServices$": moto.appmesh.responses.AppMeshResponse.dispatch,
        "{0}/v20190125/meshes/(?P<meshName>[^/]+)/virtualServices/(?P<virtualServiceName>[^/]+)$": moto.appmesh.responses.AppMeshResponse.dispatch,
    }
)


# ── EKS add-ons: an extension of moto, not moto ────────────────────────────
# moto 5.2.5 serves clusters and Fargate profiles but no add-ons
# (moto/eks/urls.py has no /addons path). This stand-in serves CreateAddon,
# DescribeAddon, UpdateAddon, DeleteAddon, ListAddons, DescribeAddonVersions
# and DescribeUpdate (for add-on updates) with the EKS REST shapes, so a
# whole platform can be applied and destroyed in tests. Add-ons are ACTIVE
# as soon as created and live on their cluster object (deleting the cluster
# deletes them, as EKS does).
#
# Versions follow a model of EKS's compatibility table: every add-on name
# offers `v1.0.0-eksbuild.N` for each minor version 1.N, the default for
# Kubernetes 1.N and compatible with 1.N and 1.(N+1) only, so an add-on
# left alone falls out of support two minor versions later.
# DescribeAddonVersions for Kubernetes 1.M lists the versions for 1.M
# (default) and 1.(M-1), newest first. CreateAddon without a version
# installs the default for the cluster's version. A version outside the
# model (a test pins `v1.11.1-eksbuild.11`) is accepted and compatible with
# every Kubernetes version.


def _k8s_minor(version):
    try:
        return int(str(version).split(".")[1])
    except (IndexError, ValueError):
        return None


def addon_version_for(minor):
    return f"v1.0.0-eksbuild.{minor}"


def _addon_supports(addon_version, k8s):
    """Does `addon_version` run on Kubernetes `k8s` (`1.30`)?"""
    prefix = "v1.0.0-eksbuild."
    if not addon_version.startswith(prefix) or not addon_version[len(prefix):].isdigit():
        return True
    built_for = int(addon_version[len(prefix):])
    return _k8s_minor(k8s) in (built_for, built_for + 1)


def _eks_not_found(message, **names):
    return moto.eks.exceptions.ResourceNotFoundException(
        clusterName=names.get("cluster"),
        nodegroupName=None,
        fargateProfileName=None,
        addonName=names.get("addon"),
        message=message,
    )


def _cluster(response):
    name = response._get_param("name")
    backend = response.eks_backend
    if name not in backend.clusters:
        raise _eks_not_found(f"No cluster found for name: {name}.", cluster=name)
    cluster = backend.clusters[name]
    if not hasattr(cluster, "payrun_addons"):
        cluster.payrun_addons = {}
        cluster.payrun_updates = {}
    return name, cluster


def _addon(response):
    name, cluster = _cluster(response)
    addon = response._get_param("addonName")
    if addon not in cluster.payrun_addons:
        raise _eks_not_found(
            f"No addon: {addon} found in cluster: {name}", cluster=name, addon=addon
        )
    return cluster, cluster.payrun_addons[addon]


def create_addon(self):
    name, cluster = _cluster(self)
    addon = self._get_param("addonName")
    if addon in cluster.payrun_addons:
        raise moto.eks.exceptions.ResourceInUseException(
            clusterName=name,
            nodegroupName=None,
            addonName=addon,
            message=f"Addon already exists with name: {addon} on cluster: {name}",
        )
    now = time.time()
    item = {
        "addonName": addon,
        "clusterName": name,
        "status": "ACTIVE",
        "addonVersion": self._get_param("addonVersion") or addon_version_for(_k8s_minor(cluster.version)),
        "health": {"issues": []},
        "addonArn": f"arn:aws:eks:{self.region}:{self.current_account}:addon/{name}/{addon}/{uuid.uuid4()}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": self._get_param("tags") or {},
    }
    for key in ("serviceAccountRoleArn", "configurationValues"):
        if self._get_param(key):
            item[key] = self._get_param(key)
    cluster.payrun_addons[addon] = item
    return json.dumps({"addon": item})


def describe_addon(self):
    _, item = _addon(self)
    return json.dumps({"addon": item})


def update_addon(self):
    cluster, item = _addon(self)
    params = []
    for key, kind in (
        ("addonVersion", "AddonVersion"),
        ("serviceAccountRoleArn", "ServiceAccountRoleArn"),
        ("configurationValues", "ConfigurationValues"),
        ("resolveConflicts", "ResolveConflicts"),
    ):
        value = self._get_param(key)
        if value is not None:
            if key != "resolveConflicts":
                item[key] = value
            params.append({"type": kind, "value": value})
    item["modifiedAt"] = time.time()
    update = {
        "id": str(uuid.uuid4()),
        "status": "Successful",
        "type": "AddonUpdate",
        "params": params,
        "createdAt": time.time(),
        "errors": [],
    }
    cluster.payrun_updates[update["id"]] = update
    return json.dumps({"update": update})


def delete_addon(self):
    cluster, item = _addon(self)
    del cluster.payrun_addons[item["addonName"]]
    return json.dumps({"addon": dict(item, status="DELETING")})


def list_addons(self):
    _, cluster = _cluster(self)
    return json.dumps({"addons": sorted(cluster.payrun_addons)})


def describe_addon_versions(self):
    name = self._get_param("addonName")
    k8s = self._get_param("kubernetesVersion")
    minor = _k8s_minor(k8s)
    if not name or minor is None:
        return json.dumps({"addons": []})
    versions = [
        {
            "addonVersion": addon_version_for(built_for),
            "architecture": ["amd64", "arm64"],
            "compatibilities": [
                {"clusterVersion": k8s, "platformVersions": ["*"], "defaultVersion": built_for == minor}
            ],
            "requiresConfiguration": False,
        }
        for built_for in (minor, minor - 1)
    ]
    return json.dumps(
        {"addons": [{"addonName": name, "type": "networking", "addonVersions": versions, "owner": "aws"}]}
    )


def describe_update(self):
    _, cluster = _cluster(self)
    update = cluster.payrun_updates.get(self._get_param("updateId"))
    if update is None:
        raise _eks_not_found("No update found", cluster=self._get_param("name"))
    return json.dumps({"update": update})


for _f in (
    create_addon,
    describe_addon,
    update_addon,
    delete_addon,
    list_addons,
    describe_addon_versions,
    describe_update,
):
    setattr(moto.eks.responses.EKSResponse, _f.__name__, _f)

moto.eks.urls.url_paths.update(
    {
        "{0}/clusters/(?P<name>[^/]+)/addons$": moto.eks.urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": moto.eks.urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$": moto.eks.urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$": moto.eks.urls.response.dispatch,
        "{0}/addons/supported-versions$": moto.eks.urls.response.dispatch,
    }
)


# ── EKS cluster version updates: an extension of moto, not moto ────────────
# moto 5.2.5 has no UpdateClusterVersion (POST /clusters/{name}/updates is
# not in moto/eks/urls.py; moto answers 404 with an HTML page). This
# stand-in serves it with the EKS API reference's shapes (ListUpdates, GET
# on the same path, stays unserved). It relies on these moto names:
#   moto/eks/models.py   EKSBackend.clusters (name -> Cluster), and the
#                        Cluster attributes `version`, `status` ("ACTIVE",
#                        moto's ACTIVE_STATUS) and `platformVersion`, which
#                        DescribeCluster serialises as they are;
#   moto/eks/responses.py EKSResponse (eks_backend, _get_param), whose
#                        dispatch picks the method from the botocore
#                        operation name (UpdateClusterVersion ->
#                        update_cluster_version);
#   moto/eks/exceptions.py InvalidParameterException (400),
#                        ResourceInUseException (409).
# An update may go one minor version up only (a skip, a downgrade or the
# same version is InvalidParameterException); while another update of the
# cluster is in progress, or the cluster is not ACTIVE, it is
# ResourceInUseException. While an add-on on the cluster runs a version the
# new Kubernetes version does not support (the model above), the update is
# refused with InvalidRequestException unless `force` is set, as EKS's
# upgrade readiness checks do. A repeated clientRequestToken answers the update
# it started, as EKS's idempotency token does. The cluster is UPDATING at
# once; after PAYRUN_MOTO_EKS_UPDATE_SECONDS (default 1) it is ACTIVE at the
# new version (platform version eks.1) and DescribeUpdate (the add-on
# extension's, above, which reads cluster.payrun_updates) answers
# Successful.

EKS_UPDATE_PLATFORM_VERSION = "eks.1"
_UPDATE_LOCK = threading.Lock()


def _minor_version(text, name):
    try:
        major, minor = (int(part) for part in str(text).split("."))
        return major, minor
    except (TypeError, ValueError):
        raise moto.eks.exceptions.InvalidParameterException(
            clusterName=name,
            nodegroupName=None,
            addonName=None,
            message=f"Invalid Kubernetes version: {text}",
        )


def _finish_version_update(cluster, update, version):
    with _UPDATE_LOCK:
        cluster.version = version
        cluster.platformVersion = EKS_UPDATE_PLATFORM_VERSION
        cluster.status = moto.eks.models.ACTIVE_STATUS
        update["status"] = "Successful"


def update_cluster_version(self):
    name, cluster = _cluster(self)
    version = self._get_param("version")
    token = self._get_param("clientRequestToken")
    with _UPDATE_LOCK:
        tokens = cluster.__dict__.setdefault("payrun_update_tokens", {})
        if token and token in tokens:
            return json.dumps({"update": cluster.payrun_updates[tokens[token]]})
        running = [u["id"] for u in cluster.payrun_updates.values() if u["status"] == "InProgress"]
        if running or cluster.status != moto.eks.models.ACTIVE_STATUS:
            raise moto.eks.exceptions.ResourceInUseException(
                clusterName=name,
                nodegroupName=None,
                addonName=None,
                message=f"Cluster {name} has an update in progress ({', '.join(running) or cluster.status}); wait until it completes",
            )
        current = _minor_version(cluster.version, name)
        wanted = _minor_version(version, name)
        if wanted[0] != current[0] or wanted[1] != current[1] + 1:
            raise moto.eks.exceptions.InvalidParameterException(
                clusterName=name,
                nodegroupName=None,
                addonName=None,
                message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}",
            )
        behind = [
            f"{a['addonName']} {a['addonVersion']}"
            for a in sorted(cluster.payrun_addons.values(), key=lambda a: a["addonName"])
            if not _addon_supports(a["addonVersion"], version)
        ]
        if behind and self._get_param("force") is not True:
            raise moto.eks.exceptions.InvalidRequestException(
                clusterName=name,
                nodegroupName=None,
                addonName=None,
                message=f"Upgrade readiness check failed: add-ons not compatible with Kubernetes {version}: {', '.join(behind)}",
            )
        update = {
            "id": str(uuid.uuid4()),
            "status": "InProgress",
            "type": "VersionUpdate",
            "params": [
                {"type": "Version", "value": version},
                {"type": "PlatformVersion", "value": EKS_UPDATE_PLATFORM_VERSION},
            ],
            "createdAt": time.time(),
            "errors": [],
        }
        cluster.payrun_updates[update["id"]] = update
        if token:
            tokens[token] = update["id"]
        cluster.status = "UPDATING"
        reply = json.dumps({"update": update})
    delay = float(os.environ.get("PAYRUN_MOTO_EKS_UPDATE_SECONDS", "1"))
    timer = threading.Timer(delay, _finish_version_update, (cluster, update, version))
    timer.daemon = True
    timer.start()
    return reply


moto.eks.responses.EKSResponse.update_cluster_version = update_cluster_version

moto.eks.urls.url_paths.update(
    {
        "{0}/clusters/(?P<name>[^/]+)/updates$": moto.eks.urls.response.dispatch,
    }
)


# ── EKS release calendar: an extension of moto, not moto ──────────────────
# moto 5.2.5 has no DescribeClusterVersions (GET /cluster-versions is not in
# moto/eks/urls.py). This serves it with the shapes of the EKS API reference
# (docs.aws.amazon.com/eks/latest/APIReference/API_DescribeClusterVersions.html):
# `clusterVersions[]` with clusterVersion, clusterType, releaseDate,
# endOfStandardSupportDate, endOfExtendedSupportDate (epoch seconds),
# versionStatus (STANDARD_SUPPORT, EXTENDED_SUPPORT or UNSUPPORTED, as of
# today) and the deprecated lower-case `status`; `clusterVersions`,
# `versionStatus`, `defaultOnly`, `maxResults` and `nextToken` filter and
# page as EKS does. Without includeAll=true EKS lists the versions it still
# supports, so the unsupported ones are left out. The calendar is the one
# on docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html;
# PAYRUN_MOTO_EKS_VERSIONS (JSON: [[version, release, end of standard,
# end of extended], ...]) replaces it, so a test can make EKS disagree with
# payrun's embedded copy. It relies on moto/eks/responses.py EKSResponse
# (`querystring`, the method picked from the botocore operation name) and
# botocore's model of the operation.

EKS_CALENDAR = [
    ["1.28", "2023-09-26", "2024-11-26", "2025-11-26"],
    ["1.29", "2024-01-23", "2025-03-23", "2026-03-23"],
    ["1.30", "2024-05-23", "2025-07-23", "2026-07-23"],
    ["1.31", "2024-09-26", "2025-11-26", "2026-11-26"],
    ["1.32", "2025-01-23", "2026-03-23", "2027-03-23"],
    ["1.33", "2025-05-29", "2026-07-29", "2027-07-29"],
    ["1.34", "2025-10-02", "2026-12-02", "2027-12-02"],
    ["1.35", "2026-01-27", "2027-03-27", "2028-03-27"],
    ["1.36", "2026-06-02", "2027-08-02", "2028-08-02"],
]


def _day_seconds(day):
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


def _version_status(standard, extended):
    today = time.strftime("%Y-%m-%d", time.gmtime())
    if today >= extended:
        return "UNSUPPORTED"
    if today >= standard:
        return "EXTENDED_SUPPORT"
    return "STANDARD_SUPPORT"


def describe_cluster_versions(self):
    query = self.querystring
    first = lambda k: (query.get(k) or [None])[0]
    calendar = EKS_CALENDAR
    if os.environ.get("PAYRUN_MOTO_EKS_VERSIONS"):
        calendar = json.loads(os.environ["PAYRUN_MOTO_EKS_VERSIONS"])
    newest_standard = max(
        (v for v, _, s, e in calendar if _version_status(s, e) == "STANDARD_SUPPORT"),
        key=lambda v: tuple(int(p) for p in v.split(".")),
        default=None,
    )
    versions = []
    for version, released, standard, extended in calendar:
        status = _version_status(standard, extended)
        versions.append(
            {
                "clusterVersion": version,
                "clusterType": "eks",
                "defaultPlatformVersion": "eks.1",
                "defaultVersion": version == newest_standard,
                "releaseDate": _day_seconds(released),
                "endOfStandardSupportDate": _day_seconds(standard),
                "endOfExtendedSupportDate": _day_seconds(extended),
                "status": status.lower().replace("_", "-"),
                "versionStatus": status,
                "kubernetesPatchVersion": f"{version}.0",
            }
        )
    if first("includeAll") != "true":
        versions = [v for v in versions if v["versionStatus"] != "UNSUPPORTED"]
    wanted = query.get("clusterVersions")
    if wanted:
        versions = [v for v in versions if v["clusterVersion"] in wanted]
    if first("versionStatus"):
        versions = [v for v in versions if v["versionStatus"] == first("versionStatus")]
    if first("defaultOnly") == "true":
        versions = [v for v in versions if v["defaultVersion"]]
    start = int(first("nextToken") or 0)
    size = int(first("maxResults") or 100)
    page = {"clusterVersions": versions[start : start + size]}
    if start + size < len(versions):
        page["nextToken"] = str(start + size)
    return json.dumps(page)


moto.eks.responses.EKSResponse.describe_cluster_versions = describe_cluster_versions

moto.eks.urls.url_paths.update(
    {
        "{0}/cluster-versions$": moto.eks.urls.response.dispatch,
    }
)


# ── EKS cluster security group and issuer: an extension of moto ────────────
# EKS creates a cluster security group in the cluster's VPC and reports it as
# resourcesVpcConfig.clusterSecurityGroupId; Fargate pods without a
# SecurityGroupPolicy (CoreDNS) run in it. moto 5.2.5 creates none and
# answers no id, so rules that name it would get an empty group id. This
# creates the group with the cluster (in the VPC of its first subnet,
# tagged as EKS tags it) and deletes it with the cluster.

_create_cluster = moto.eks.models.EKSBackend.create_cluster
_update_cluster_config = moto.eks.models.EKSBackend.update_cluster_config
_delete_cluster = moto.eks.models.EKSBackend.delete_cluster


def _ec2(backend):
    return moto.ec2.models.ec2_backends[backend.account_id][backend.region_name]


def create_cluster_with_group(self, *args, **kwargs):
    cluster = _create_cluster(self, *args, **kwargs)
    # moto draws one issuer id per process (ISSUER_TEMPLATE in
    # moto/eks/models.py), so every cluster would share an OIDC issuer and
    # the second cluster's IAM OIDC provider would collide; EKS gives each
    # cluster its own.
    cluster.identity = {
        "oidc": {
            "issuer": f"https://oidc.eks.{self.region_name}.amazonaws.com/id/{uuid.uuid4().hex.upper()}"
        }
    }
    config = cluster.resources_vpc_config or {}
    subnets = config.get("subnetIds") or []
    if subnets:
        ec2 = _ec2(self)
        vpc_id = ec2.get_subnet(subnets[0]).vpc_id
        group = ec2.create_security_group(
            name=f"eks-cluster-sg-{cluster.name}-{uuid.uuid4().hex[:10]}",
            description="EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.",
            vpc_id=vpc_id,
            tags={
                "aws:eks:cluster-name": cluster.name,
                f"kubernetes.io/cluster/{cluster.name}": "owned",
            },
        )
        config["clusterSecurityGroupId"] = group.id
        config["vpcId"] = vpc_id
        cluster.resources_vpc_config = config
    return cluster


def update_cluster_config_keeping_group(self, name, *args, **kwargs):
    cluster = self.clusters.get(name)
    kept = {
        k: v
        for k, v in ((cluster.resources_vpc_config or {}) if cluster else {}).items()
        if k in ("clusterSecurityGroupId", "vpcId")
    }
    result = _update_cluster_config(self, name, *args, **kwargs)
    if cluster is not None:
        cluster.resources_vpc_config = dict(cluster.resources_vpc_config or {}, **kept)
    return result


def delete_cluster_with_group(self, name):
    cluster = _delete_cluster(self, name)
    group = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
    if group:
        try:
            _ec2(self).delete_security_group(group_id=group)
        except Exception:  # already gone
            pass
    return cluster


moto.eks.models.EKSBackend.create_cluster = create_cluster_with_group
moto.eks.models.EKSBackend.update_cluster_config = update_cluster_config_keeping_group
moto.eks.models.EKSBackend.delete_cluster = delete_cluster_with_group


# ── EKS Auto Mode and access configuration: an extension of moto ──────────
# moto 5.2.5's CreateCluster (moto/eks/responses.py EKSResponse.create_cluster)
# reads neither computeConfig, storageConfig, accessConfig nor
# bootstrapSelfManagedAddons, and stores kubernetesNetworkConfig as sent,
# losing its serviceIpv4Cidr default; its UpdateClusterConfig ignores them
# too and answers an empty body, where EKS answers an `update`. This serves
# them as the EKS API reference describes
# (docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html,
# API_UpdateClusterConfig.html) and refuses what EKS refuses: Auto Mode's
# compute, block storage and load balancing not all on or all off; a node
# role without node pools or the other way round; Auto Mode below
# Kubernetes 1.29, with bootstrapSelfManagedAddons not false, or with the
# CONFIG_MAP authentication mode; an authentication mode moved backwards.
# The settings are kept as attributes of moto's Cluster (compute_config,
# storage_config, access_config), which moto's serializer
# (moto/core/serialize.py XFormedAttributePicker) reads for DescribeCluster.
# An UpdateClusterConfig answers an update that is Successful at once, which
# DescribeUpdate (the add-on extension's, reading cluster.payrun_updates)
# serves.

AUTH_MODES = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
_eks_create_cluster_response = moto.eks.responses.EKSResponse.create_cluster
_eks_update_cluster_config_response = moto.eks.responses.EKSResponse.update_cluster_config


def _eks_invalid(name, message):
    return moto.eks.exceptions.InvalidParameterException(
        clusterName=name, nodegroupName=None, addonName=None, message=message
    )


def _auto_mode(self, name, version, auth_mode, creating):
    compute = self._get_param("computeConfig")
    storage = self._get_param("storageConfig")
    network = self._get_param("kubernetesNetworkConfig") or {}
    balancing = network.get("elasticLoadBalancing")
    given = [compute, storage, balancing]
    if all(g is None for g in given):
        return None
    flags = [bool((compute or {}).get("enabled")), bool(((storage or {}).get("blockStorage") or {}).get("enabled")), bool((balancing or {}).get("enabled"))]
    if any(g is None for g in given) or len(set(flags)) != 1:
        raise _eks_invalid(
            name,
            "For EKS Auto Mode, please ensure that all required configs, including computeConfig, kubernetesNetworkConfig, and blockStorage are all either fully enabled or fully disabled.",
        )
    on = flags[0]
    role = (compute or {}).get("nodeRoleArn")
    pools = (compute or {}).get("nodePools") or []
    if on and not role and pools:
        raise _eks_invalid(name, "When Compute Config nodeRoleArn is null or empty, nodePool list cannot be populated.")
    if on and role and not pools:
        raise _eks_invalid(name, "When Compute Config nodeRoleArn is not null or empty, nodePool value(s) must be provided.")
    if on and _minor_version(version, name) < (1, 29):
        raise _eks_invalid(name, "EKS Auto Mode is only supported for cluster version 1.29 or above.")
    if on and creating and self._get_param("bootstrapSelfManagedAddons") is not False:
        raise _eks_invalid(name, "When EKS Auto Mode is enabled, bootstrapSelfManagedAddons must be set to false.")
    if on and auth_mode == "CONFIG_MAP":
        raise _eks_invalid(name, "EKS Auto Mode requires the cluster authentication mode to be API or API_AND_CONFIG_MAP.")
    return {
        "compute": {"enabled": on, "nodeRoleArn": role, "nodePools": pools} if on else {"enabled": False},
        "storage": {"blockStorage": {"enabled": on}},
        "balancing": {"enabled": on},
    }


def _apply_auto_mode(cluster, auto):
    cluster.compute_config = auto["compute"]
    cluster.storage_config = auto["storage"]
    network = dict(cluster.kubernetes_network_config or {})
    network.pop("elasticLoadBalancing", None)
    network.setdefault("serviceIpv4Cidr", "172.20.0.0/16")
    network.setdefault("ipFamily", "ipv4")
    network["elasticLoadBalancing"] = auto["balancing"]
    cluster.kubernetes_network_config = network


def create_cluster_with_auto_mode(self):
    name = self._get_param("name")
    version = self._get_param("version") or "1.19"
    access = self._get_param("accessConfig") or {}
    mode = access.get("authenticationMode", "CONFIG_MAP")
    if mode not in AUTH_MODES:
        raise _eks_invalid(name, f"Invalid authenticationMode: {mode}")
    auto = _auto_mode(self, name, version, mode, creating=True)
    result = _eks_create_cluster_response(self)
    cluster = self.eks_backend.clusters[name]
    cluster.access_config = {
        "authenticationMode": mode,
        "bootstrapClusterCreatorAdminPermissions": access.get("bootstrapClusterCreatorAdminPermissions", True),
    }
    if auto is not None:
        _apply_auto_mode(cluster, auto)
    return result


def update_cluster_config_with_auto_mode(self):
    name, cluster = _cluster(self)
    access = self._get_param("accessConfig")
    mode = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", "CONFIG_MAP")
    kind = "ConfigUpdate"
    params = []
    if access is not None:
        wanted = access.get("authenticationMode", mode)
        if wanted not in AUTH_MODES or AUTH_MODES.index(wanted) < AUTH_MODES.index(mode):
            raise moto.eks.exceptions.InvalidRequestException(
                clusterName=name,
                nodegroupName=None,
                addonName=None,
                message=f"Unsupported authentication mode update from {mode} to {wanted}",
            )
        cluster.access_config = dict(getattr(cluster, "access_config", None) or {}, authenticationMode=wanted)
        kind = "AccessConfigUpdate"
        params.append({"type": "AuthenticationMode", "value": wanted})
    auto = _auto_mode(self, name, cluster.version, (cluster.access_config or {}).get("authenticationMode", mode), creating=False)
    if auto is not None:
        _apply_auto_mode(cluster, auto)
        kind = "AutoModeUpdate"
        params.append({"type": "ComputeConfig", "value": json.dumps(auto["compute"])})
    elif access is None:
        _eks_update_cluster_config_response(self)
    update = {
        "id": str(uuid.uuid4()),
        "status": "Successful",
        "type": kind,
        "params": params,
        "createdAt": time.time(),
        "errors": [],
    }
    cluster.payrun_updates[update["id"]] = update
    return json.dumps({"update": update})


moto.eks.responses.EKSResponse.create_cluster = create_cluster_with_auto_mode
moto.eks.responses.EKSResponse.update_cluster_config = update_cluster_config_with_auto_mode


# ── VPC Lattice deletes: an extension of moto, not moto ────────────────────
# moto 5.2.5 creates, gets and lists Lattice resources but deletes none of
# them: VPCLatticeResponse (moto/vpclattice/responses.py) has no
# delete_service_network, delete_service, delete_target_group,
# delete_listener, delete_service_network_vpc_association or
# delete_service_network_service_association, so moto answers 500; nor
# get_service_network_vpc_association, which waiting for a VPC association
# to leave needs, so this serves that Get too (the association's to_dict). Its
# delete_auth_policy exists but answers moto's ResourceNotFoundException
# (moto/vpclattice/exceptions.py), which has status 400 where the API has
# 404. This stand-in serves the seven deletes with the shapes of the VPC
# Lattice API reference (botocore's vpc-lattice model: DELETE on the
# resource's path; DeleteServiceNetwork, DeleteListener and DeleteAuthPolicy
# answer 204 with no body, the others 200 with id, arn and status). It relies
# on these moto names:
#   moto/vpclattice/models.py VPCLatticeBackend's dicts keyed by id:
#     services, service_networks, target_groups, listeners, rules,
#     service_network_vpc_associations,
#     service_network_service_associations,
#     service_network_resource_associations, access_log_subscriptions and
#     auth_policies (by service or network id); resource_policies (by ARN);
#     tagger (TaggingService, by ARN); and the model attributes `id`, `arn`,
#     `status` (which Get serialises), `service_network_id` and `service_id`
#     of associations, `service_identifier` and `default_action` of
#     listeners, `listener_identifier` and `action` of rules, `resourceId`
#     of access log subscriptions;
#   moto/vpclattice/responses.py VPCLatticeResponse (backend, path,
#     _get_param), whose dispatch picks the method from the botocore
#     operation name (DeleteService -> delete_service).
# Unknown ids are ResourceNotFoundException (404). ConflictException (409)
# where the API reference gives one: a service network that still has a
# service, VPC or resource association; a service still associated with a
# service network; a target group a listener or rule forwards to. As in
# Lattice, deleting a service takes its listeners, rules, auth policy,
# resource policy and access log subscriptions with it, and deleting a
# service network its auth policy, resource policy and access log
# subscriptions. Services, target groups and both kinds of association are
# deleted asynchronously, as in Lattice: the delete answers
# DELETE_IN_PROGRESS, Get answers them with that status, and they are gone
# after PAYRUN_MOTO_LATTICE_DELETE_SECONDS (default 1). A repeated delete
# while one is in progress answers DELETE_IN_PROGRESS again.

_LATTICE_LOCK = threading.Lock()

# Gets (moto's own) answer 404 for what is gone, as Lattice does.
moto.vpclattice.exceptions.ResourceNotFoundException.code = 404


class _LatticeError(JsonRESTError):
    def __init__(self, error_type, message, resource_id, resource_type):
        super().__init__(error_type, message)
        self.description = json.dumps(
            {
                "__type": error_type,
                "message": message,
                "resourceId": resource_id,
                "resourceType": resource_type,
            }
        )


class _LatticeNotFound(_LatticeError):
    code = 404

    def __init__(self, message, resource_id, resource_type):
        super().__init__("ResourceNotFoundException", message, resource_id, resource_type)


class _LatticeConflict(_LatticeError):
    code = 409

    def __init__(self, message, resource_id, resource_type):
        super().__init__("ConflictException", message, resource_id, resource_type)


def _lattice_id(text):
    """An identifier as the id moto keys by: Lattice takes the id or the ARN,
    whose last path segment is the id."""
    return unquote(text or "").rsplit("/", 1)[-1]


def _path_id(response, from_end=1):
    return _lattice_id(unquote(response.path).split("/")[-from_end])


def _lattice_one(items, ident, what, resource_type):
    item = items.get(ident)
    if item is None:
        raise _LatticeNotFound(f"{what} {ident} not found", ident, resource_type)
    return item


def _lattice_forget(backend, *items):
    for item in items:
        backend.tagger.delete_all_tags_for_resource(item.arn)


def _forget_policies_and_logs(backend, resource):
    backend.auth_policies.pop(resource.id, None)
    backend.resource_policies.pop(resource.arn, None)
    for sub_id, sub in list(backend.access_log_subscriptions.items()):
        if sub.resourceId == resource.id:
            del backend.access_log_subscriptions[sub_id]
            _lattice_forget(backend, sub)


def _lattice_later(gone):
    """Runs `gone` (under the lock) once the configured delete delay passed."""

    def run():
        with _LATTICE_LOCK:
            gone()

    delay = float(os.environ.get("PAYRUN_MOTO_LATTICE_DELETE_SECONDS", "1"))
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def _delete_in_progress(backend, items, item, also=lambda: None):
    """Marks `item` DELETE_IN_PROGRESS and removes it from `items` later."""
    if item.status == "DELETE_IN_PROGRESS":
        return

    def gone():
        if items.get(item.id) is item:
            del items[item.id]
            _lattice_forget(backend, item)
            also()

    item.status = "DELETE_IN_PROGRESS"
    _lattice_later(gone)


def delete_service_network(self):
    ident = _path_id(self)
    backend = self.backend
    with _LATTICE_LOCK:
        network = _lattice_one(backend.service_networks, ident, "Service network", "SERVICE_NETWORK")
        associations = [
            a.id
            for group in (
                backend.service_network_service_associations,
                backend.service_network_vpc_associations,
                backend.service_network_resource_associations,
            )
            for a in group.values()
            if a.service_network_id == network.id
        ]
        if associations:
            raise _LatticeConflict(
                f"Service network {network.id} has associations ({', '.join(associations)}); delete them first",
                network.id,
                "SERVICE_NETWORK",
            )
        del backend.service_networks[network.id]
        _lattice_forget(backend, network)
        _forget_policies_and_logs(backend, network)
    return "", {"status": 204}


def delete_service(self):
    ident = _path_id(self)
    backend = self.backend
    with _LATTICE_LOCK:
        service = _lattice_one(backend.services, ident, "Service", "SERVICE")
        associations = [
            a.id for a in backend.service_network_service_associations.values() if a.service_id == service.id
        ]
        if associations:
            raise _LatticeConflict(
                f"Service {service.id} is associated with a service network ({', '.join(associations)}); delete the associations first",
                service.id,
                "SERVICE",
            )

        def with_its_parts():
            for listener_id, listener in list(backend.listeners.items()):
                if listener.service_identifier == service.id:
                    _delete_listener_now(backend, listener_id)
            _forget_policies_and_logs(backend, service)

        _delete_in_progress(backend, backend.services, service, with_its_parts)
        return json.dumps({"id": service.id, "arn": service.arn, "name": service.name, "status": service.status})


def _forwards_to(action, target_group):
    groups = ((action or {}).get("forward") or {}).get("targetGroups") or []
    return any(
        _lattice_id(g.get("targetGroupIdentifier")) == target_group.id for g in groups
    )


def delete_target_group(self):
    ident = _path_id(self)
    backend = self.backend
    with _LATTICE_LOCK:
        group = _lattice_one(backend.target_groups, ident, "Target group", "TARGET_GROUP")
        users = [l.id for l in backend.listeners.values() if _forwards_to(l.default_action, group)]
        users += [r.id for r in backend.rules.values() if _forwards_to(r.action, group)]
        if users:
            raise _LatticeConflict(
                f"Target group {group.id} is in use by {', '.join(users)}; remove it from their actions first",
                group.id,
                "TARGET_GROUP",
            )
        _delete_in_progress(backend, backend.target_groups, group)
        return json.dumps({"id": group.id, "arn": group.arn, "status": group.status})


def _delete_listener_now(backend, listener_id):
    listener = backend.listeners.pop(listener_id)
    _lattice_forget(backend, listener)
    for rule_id, rule in list(backend.rules.items()):
        if _lattice_id(rule.listener_identifier) == listener_id:
            del backend.rules[rule_id]
            _lattice_forget(backend, rule)


def delete_listener(self):
    service_ident = _path_id(self, from_end=3)
    listener_ident = _path_id(self)
    backend = self.backend
    with _LATTICE_LOCK:
        service = _lattice_one(backend.services, service_ident, "Service", "SERVICE")
        listener = backend.listeners.get(listener_ident)
        if listener is None or listener.service_identifier != service.id:
            raise _LatticeNotFound(
                f"Listener {listener_ident} not found in service {service.id}", listener_ident, "LISTENER"
            )
        _delete_listener_now(backend, listener.id)
    return "", {"status": 204}


def _delete_association(self, items, what, resource_type):
    ident = _path_id(self)
    backend = self.backend
    with _LATTICE_LOCK:
        association = _lattice_one(getattr(backend, items), ident, what, resource_type)
        _delete_in_progress(backend, getattr(backend, items), association)
        return json.dumps({"id": association.id, "arn": association.arn, "status": association.status})


def delete_service_network_vpc_association(self):
    return _delete_association(
        self,
        "service_network_vpc_associations",
        "Service network VPC association",
        "SERVICE_NETWORK_VPC_ASSOCIATION",
    )


def delete_service_network_service_association(self):
    return _delete_association(
        self,
        "service_network_service_associations",
        "Service network service association",
        "SERVICE_NETWORK_SERVICE_ASSOCIATION",
    )


def get_service_network_vpc_association(self):
    ident = _path_id(self)
    with _LATTICE_LOCK:
        association = _lattice_one(
            self.backend.service_network_vpc_associations,
            ident,
            "Service network VPC association",
            "SERVICE_NETWORK_VPC_ASSOCIATION",
        )
        return json.dumps(association.to_dict())


def delete_auth_policy(self):
    ident = _lattice_id(self._get_param("resourceIdentifier"))
    backend = self.backend
    resource_type = "SERVICE_NETWORK" if ident.startswith("sn-") else "SERVICE"
    with _LATTICE_LOCK:
        if backend.auth_policies.pop(ident, None) is None:
            raise _LatticeNotFound(f"No auth policy on {ident}", ident, resource_type)
    return "", {"status": 204}


for _f in (
    delete_service_network,
    delete_service,
    delete_target_group,
    delete_listener,
    delete_service_network_vpc_association,
    delete_service_network_service_association,
    get_service_network_vpc_association,
    delete_auth_policy,
):
    setattr(moto.vpclattice.responses.VPCLatticeResponse, _f.__name__, _f)


# ── S3 conditional writes made atomic: an extension of moto, not moto ─────
# moto 5.2.5 implements If-None-Match: * and If-Match on PutObject and
# If-Match on DeleteObject (moto/s3/responses.py, S3Response.put_object:
# `if if_match: ... raise PreconditionFailed("If-Match")`, `if if_none_match
# == "*" and self.backend.get_object(...) is not None: raise
# PreconditionFailed("If-None-Match")`; S3Response.delete_object likewise),
# but checks the condition and stores the key as two steps under no lock.
# ThreadedMotoServer answers each request on its own thread, so two payruns
# creating the same lock object at once could both pass the check. S3
# decides a conditional write atomically; so does this: writes and deletes
# of S3 objects run one at a time.

_S3_WRITES = threading.Lock()


def _one_at_a_time(method):
    def serialised(self, *args, **kwargs):
        with _S3_WRITES:
            return method(self, *args, **kwargs)

    serialised.__name__ = method.__name__
    return serialised


for _name in ("put_object", "delete_object"):
    setattr(
        moto.s3.responses.S3Response,
        _name,
        _one_at_a_time(getattr(moto.s3.responses.S3Response, _name)),
    )


def get_bucket_versioning(self):
    """moto 5.2.5's S3Response.get_bucket_versioning (moto/s3/responses.py)
    serialises its answer under the root element
    `GetBucketVersioningResponse`; S3 answers `VersioningConfiguration`
    (GetBucketVersioning in the S3 API reference), and the Rust SDK refuses
    any other root. Answer as S3 does: an extension of moto, not moto."""
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</VersioningConfiguration>"
    )
    return 200, {"Content-Type": "application/xml"}, body


moto.s3.responses.S3Response.get_bucket_versioning = get_bucket_versioning


def watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def watch_stdin() -> None:
    while sys.stdin.buffer.read(1):
        pass
    os._exit(0)


def main() -> None:
    # AWS managed policies (AmazonEKSClusterPolicy, ...) exist in every
    # account; moto creates them only when asked.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    parent = os.getppid()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    watch_parent(parent)


if __name__ == "__main__":
    main()
