"""The Kubernetes v1.32 API types the simulator serves, as one compact table.

Each message is ``Name: <json name> <protobuf number> <type> ...`` (continuation lines are
indented); ``[section]`` lines group messages by API package. Types are scalars (``s`` string,
``b`` bytes as base64, ``i32``/``i64``, ``bool``, ``f64``), special wire types (``time``,
``mtime`` micro-time, ``qty`` quantity, ``ios`` int-or-string, ``json`` raw JSON, ``orbool``/
``orarray``/``orstrs`` the JSON-schema unions) or message names (resolved in the same section,
then ``meta``, then ``core``; ``section.Name`` otherwise). Suffixes: ``*`` repeated, ``?`` a
pointer in Go (kept even when zero), ``{T}`` a map of string to T; a ``^`` prefix marks a message
whose fields are inlined into the parent's JSON.

Field numbers and JSON names are those of k8s.io/api, k8s.io/apimachinery,
k8s.io/apiextensions-apiserver and k8s.io/kube-aggregator at v0.32.4 (Kubernetes 1.32.4), the
version the simulator reports. ``typeschema`` parses this; protobuf decoding and field validation
both read it.
"""

from __future__ import annotations

__all__ = ["TABLE"]

TABLE = """
[meta]
DeleteOptions: gracePeriodSeconds 1 i64? preconditions 2 Preconditions? orphanDependents 3 bool?
    propagationPolicy 4 s? dryRun 5 s* ignoreStoreReadErrorWithClusterBreakingPotential 6 bool?
Preconditions: uid 1 s? resourceVersion 2 s?
ObjectMeta: name 1 s generateName 2 s namespace 3 s selfLink 4 s uid 5 s resourceVersion 6 s
    generation 7 i64 creationTimestamp 8 time deletionTimestamp 9 time?
    deletionGracePeriodSeconds 10 i64? labels 11 {s} annotations 12 {s}
    ownerReferences 13 OwnerReference* finalizers 14 s* managedFields 17 ManagedFieldsEntry*
OwnerReference: kind 1 s name 3 s uid 4 s apiVersion 5 s controller 6 bool? blockOwnerDeletion 7 bool?
ManagedFieldsEntry: manager 1 s operation 2 s apiVersion 3 s time 4 time? fieldsType 6 s
    fieldsV1 7 json? subresource 8 s
Condition: type 1 s status 2 s observedGeneration 3 i64 lastTransitionTime 4 time reason 5 s message 6 s
LabelSelector: matchLabels 1 {s} matchExpressions 2 LabelSelectorRequirement*
LabelSelectorRequirement: key 1 s operator 2 s values 3 s*
[core]
Namespace: metadata 1 ObjectMeta spec 2 NamespaceSpec status 3 NamespaceStatus
Pod: metadata 1 ObjectMeta spec 2 PodSpec status 3 PodStatus
Service: metadata 1 ObjectMeta spec 2 ServiceSpec status 3 ServiceStatus
Endpoints: metadata 1 ObjectMeta subsets 2 EndpointSubset*
ConfigMap: metadata 1 ObjectMeta data 2 {s} binaryData 3 {b} immutable 4 bool?
PersistentVolumeClaim: metadata 1 ObjectMeta spec 2 PersistentVolumeClaimSpec
    status 3 PersistentVolumeClaimStatus
Secret: metadata 1 ObjectMeta data 2 {b} type 3 s stringData 4 {s} immutable 5 bool?
Node: metadata 1 ObjectMeta spec 2 NodeSpec status 3 NodeStatus
Event: metadata 1 ObjectMeta involvedObject 2 ObjectReference reason 3 s message 4 s
    source 5 EventSource firstTimestamp 6 time lastTimestamp 7 time count 8 i32 type 9 s
    eventTime 10 mtime series 11 EventSeries? action 12 s related 13 ObjectReference?
    reportingComponent 14 s reportingInstance 15 s
ServiceAccount: metadata 1 ObjectMeta secrets 2 ObjectReference*
    imagePullSecrets 3 LocalObjectReference* automountServiceAccountToken 4 bool?
Binding: metadata 1 ObjectMeta target 2 ObjectReference
NamespaceSpec: finalizers 1 s*
NamespaceStatus: phase 1 s conditions 2 NamespaceCondition*
PodSpec: volumes 1 Volume* containers 2 Container* restartPolicy 3 s
    terminationGracePeriodSeconds 4 i64? activeDeadlineSeconds 5 i64? dnsPolicy 6 s nodeSelector 7 {s}
    serviceAccountName 8 s serviceAccount 9 s nodeName 10 s hostNetwork 11 bool hostPID 12 bool
    hostIPC 13 bool securityContext 14 PodSecurityContext? imagePullSecrets 15 LocalObjectReference*
    hostname 16 s subdomain 17 s affinity 18 Affinity? schedulerName 19 s initContainers 20 Container*
    automountServiceAccountToken 21 bool? tolerations 22 Toleration* hostAliases 23 HostAlias*
    priorityClassName 24 s priority 25 i32? dnsConfig 26 PodDNSConfig? shareProcessNamespace 27 bool?
    readinessGates 28 PodReadinessGate* runtimeClassName 29 s? enableServiceLinks 30 bool?
    preemptionPolicy 31 s? overhead 32 {qty} topologySpreadConstraints 33 TopologySpreadConstraint*
    ephemeralContainers 34 EphemeralContainer* setHostnameAsFQDN 35 bool? os 36 PodOS?
    hostUsers 37 bool? schedulingGates 38 PodSchedulingGate* resourceClaims 39 PodResourceClaim*
    resources 40 ResourceRequirements?
PodStatus: phase 1 s conditions 2 PodCondition* message 3 s reason 4 s hostIP 5 s podIP 6 s
    startTime 7 time? containerStatuses 8 ContainerStatus* qosClass 9 s
    initContainerStatuses 10 ContainerStatus* nominatedNodeName 11 s podIPs 12 PodIP*
    ephemeralContainerStatuses 13 ContainerStatus* resize 14 s
    resourceClaimStatuses 15 PodResourceClaimStatus* hostIPs 16 HostIP*
ServiceSpec: ports 1 ServicePort* selector 2 {s} clusterIP 3 s type 4 s externalIPs 5 s*
    sessionAffinity 7 s loadBalancerIP 8 s loadBalancerSourceRanges 9 s* externalName 10 s
    externalTrafficPolicy 11 s healthCheckNodePort 12 i32 publishNotReadyAddresses 13 bool
    sessionAffinityConfig 14 SessionAffinityConfig? ipFamilyPolicy 17 s? clusterIPs 18 s*
    ipFamilies 19 s* allocateLoadBalancerNodePorts 20 bool? loadBalancerClass 21 s?
    internalTrafficPolicy 22 s? trafficDistribution 23 s?
ServiceStatus: loadBalancer 1 LoadBalancerStatus conditions 2 Condition*
EndpointSubset: addresses 1 EndpointAddress* notReadyAddresses 2 EndpointAddress* ports 3 EndpointPort*
PersistentVolumeClaimSpec: accessModes 1 s* resources 2 VolumeResourceRequirements volumeName 3 s
    selector 4 LabelSelector? storageClassName 5 s? volumeMode 6 s?
    dataSource 7 TypedLocalObjectReference? dataSourceRef 8 TypedObjectReference?
    volumeAttributesClassName 9 s?
PersistentVolumeClaimStatus: phase 1 s accessModes 2 s* capacity 3 {qty}
    conditions 4 PersistentVolumeClaimCondition* allocatedResources 5 {qty}
    allocatedResourceStatuses 7 {s} currentVolumeAttributesClassName 8 s?
    modifyVolumeStatus 9 ModifyVolumeStatus?
NodeSpec: podCIDR 1 s externalID 2 s providerID 3 s unschedulable 4 bool taints 5 Taint*
    configSource 6 NodeConfigSource? podCIDRs 7 s*
NodeStatus: capacity 1 {qty} allocatable 2 {qty} phase 3 s conditions 4 NodeCondition*
    addresses 5 NodeAddress* daemonEndpoints 6 NodeDaemonEndpoints nodeInfo 7 NodeSystemInfo
    images 8 ContainerImage* volumesInUse 9 s* volumesAttached 10 AttachedVolume*
    config 11 NodeConfigStatus? runtimeHandlers 12 NodeRuntimeHandler* features 13 NodeFeatures?
ObjectReference: kind 1 s namespace 2 s name 3 s uid 4 s apiVersion 5 s resourceVersion 6 s
    fieldPath 7 s
EventSource: component 1 s host 2 s
EventSeries: count 1 i32 lastObservedTime 2 mtime
LocalObjectReference: name 1 s
NamespaceCondition: type 1 s status 2 s lastTransitionTime 4 time reason 5 s message 6 s
Volume: name 1 s volumeSource 2 ^VolumeSource
Container: name 1 s image 2 s command 3 s* args 4 s* workingDir 5 s ports 6 ContainerPort* env 7 EnvVar*
    resources 8 ResourceRequirements volumeMounts 9 VolumeMount* livenessProbe 10 Probe?
    readinessProbe 11 Probe? lifecycle 12 Lifecycle? terminationMessagePath 13 s imagePullPolicy 14 s
    securityContext 15 SecurityContext? stdin 16 bool stdinOnce 17 bool tty 18 bool
    envFrom 19 EnvFromSource* terminationMessagePolicy 20 s volumeDevices 21 VolumeDevice*
    startupProbe 22 Probe? resizePolicy 23 ContainerResizePolicy* restartPolicy 24 s?
PodSecurityContext: seLinuxOptions 1 SELinuxOptions? runAsUser 2 i64? runAsNonRoot 3 bool?
    supplementalGroups 4 i64* fsGroup 5 i64? runAsGroup 6 i64? sysctls 7 Sysctl*
    windowsOptions 8 WindowsSecurityContextOptions? fsGroupChangePolicy 9 s?
    seccompProfile 10 SeccompProfile? appArmorProfile 11 AppArmorProfile? supplementalGroupsPolicy 12 s?
    seLinuxChangePolicy 13 s?
Affinity: nodeAffinity 1 NodeAffinity? podAffinity 2 PodAffinity? podAntiAffinity 3 PodAntiAffinity?
Toleration: key 1 s operator 2 s value 3 s effect 4 s tolerationSeconds 5 i64?
HostAlias: ip 1 s hostnames 2 s*
PodDNSConfig: nameservers 1 s* searches 2 s* options 3 PodDNSConfigOption*
PodReadinessGate: conditionType 1 s
TopologySpreadConstraint: maxSkew 1 i32 topologyKey 2 s whenUnsatisfiable 3 s
    labelSelector 4 LabelSelector? minDomains 5 i32? nodeAffinityPolicy 6 s? nodeTaintsPolicy 7 s?
    matchLabelKeys 8 s*
EphemeralContainer: ephemeralContainerCommon 1 ^EphemeralContainerCommon targetContainerName 2 s
PodOS: name 1 s
PodSchedulingGate: name 1 s
PodResourceClaim: name 1 s resourceClaimName 3 s? resourceClaimTemplateName 4 s?
ResourceRequirements: limits 1 {qty} requests 2 {qty} claims 3 ResourceClaim*
PodCondition: type 1 s status 2 s lastProbeTime 3 time lastTransitionTime 4 time reason 5 s message 6 s
ContainerStatus: name 1 s state 2 ContainerState lastState 3 ContainerState ready 4 bool
    restartCount 5 i32 image 6 s imageID 7 s containerID 8 s started 9 bool? allocatedResources 10 {qty}
    resources 11 ResourceRequirements? volumeMounts 12 VolumeMountStatus* user 13 ContainerUser?
    allocatedResourcesStatus 14 ResourceStatus*
PodIP: ip 1 s
PodResourceClaimStatus: name 1 s resourceClaimName 2 s?
HostIP: ip 1 s
ServicePort: name 1 s protocol 2 s port 3 i32 targetPort 4 ios nodePort 5 i32 appProtocol 6 s?
SessionAffinityConfig: clientIP 1 ClientIPConfig?
LoadBalancerStatus: ingress 1 LoadBalancerIngress*
EndpointAddress: ip 1 s targetRef 2 ObjectReference? hostname 3 s nodeName 4 s?
EndpointPort: name 1 s port 2 i32 protocol 3 s appProtocol 4 s?
VolumeResourceRequirements: limits 1 {qty} requests 2 {qty}
TypedLocalObjectReference: apiGroup 1 s? kind 2 s name 3 s
TypedObjectReference: apiGroup 1 s? kind 2 s name 3 s namespace 4 s?
PersistentVolumeClaimCondition: type 1 s status 2 s lastProbeTime 3 time lastTransitionTime 4 time
    reason 5 s message 6 s
ModifyVolumeStatus: targetVolumeAttributesClassName 1 s status 2 s
Taint: key 1 s value 2 s effect 3 s timeAdded 4 time?
NodeConfigSource: configMap 2 ConfigMapNodeConfigSource?
NodeCondition: type 1 s status 2 s lastHeartbeatTime 3 time lastTransitionTime 4 time reason 5 s
    message 6 s
NodeAddress: type 1 s address 2 s
NodeDaemonEndpoints: kubeletEndpoint 1 DaemonEndpoint
NodeSystemInfo: machineID 1 s systemUUID 2 s bootID 3 s kernelVersion 4 s osImage 5 s
    containerRuntimeVersion 6 s kubeletVersion 7 s kubeProxyVersion 8 s operatingSystem 9 s
    architecture 10 s
ContainerImage: names 1 s* sizeBytes 2 i64
AttachedVolume: name 1 s devicePath 2 s
NodeConfigStatus: assigned 1 NodeConfigSource? active 2 NodeConfigSource?
    lastKnownGood 3 NodeConfigSource? error 4 s
NodeRuntimeHandler: name 1 s features 2 NodeRuntimeHandlerFeatures?
NodeFeatures: supplementalGroupsPolicy 1 bool?
PodTemplateSpec: metadata 1 ObjectMeta spec 2 PodSpec
VolumeSource: hostPath 1 HostPathVolumeSource? emptyDir 2 EmptyDirVolumeSource?
    gcePersistentDisk 3 GCEPersistentDiskVolumeSource?
    awsElasticBlockStore 4 AWSElasticBlockStoreVolumeSource? gitRepo 5 GitRepoVolumeSource?
    secret 6 SecretVolumeSource? nfs 7 NFSVolumeSource? iscsi 8 ISCSIVolumeSource?
    glusterfs 9 GlusterfsVolumeSource? persistentVolumeClaim 10 PersistentVolumeClaimVolumeSource?
    rbd 11 RBDVolumeSource? flexVolume 12 FlexVolumeSource? cinder 13 CinderVolumeSource?
    cephfs 14 CephFSVolumeSource? flocker 15 FlockerVolumeSource?
    downwardAPI 16 DownwardAPIVolumeSource? fc 17 FCVolumeSource? azureFile 18 AzureFileVolumeSource?
    configMap 19 ConfigMapVolumeSource? vsphereVolume 20 VsphereVirtualDiskVolumeSource?
    quobyte 21 QuobyteVolumeSource? azureDisk 22 AzureDiskVolumeSource?
    photonPersistentDisk 23 PhotonPersistentDiskVolumeSource? portworxVolume 24 PortworxVolumeSource?
    scaleIO 25 ScaleIOVolumeSource? projected 26 ProjectedVolumeSource?
    storageos 27 StorageOSVolumeSource? csi 28 CSIVolumeSource? ephemeral 29 EphemeralVolumeSource?
    image 30 ImageVolumeSource?
ContainerPort: name 1 s hostPort 2 i32 containerPort 3 i32 protocol 4 s hostIP 5 s
EnvVar: name 1 s value 2 s valueFrom 3 EnvVarSource?
VolumeMount: name 1 s readOnly 2 bool mountPath 3 s subPath 4 s mountPropagation 5 s? subPathExpr 6 s
    recursiveReadOnly 7 s?
Probe: handler 1 ^ProbeHandler initialDelaySeconds 2 i32 timeoutSeconds 3 i32 periodSeconds 4 i32
    successThreshold 5 i32 failureThreshold 6 i32 terminationGracePeriodSeconds 7 i64?
Lifecycle: postStart 1 LifecycleHandler? preStop 2 LifecycleHandler?
SecurityContext: capabilities 1 Capabilities? privileged 2 bool? seLinuxOptions 3 SELinuxOptions?
    runAsUser 4 i64? runAsNonRoot 5 bool? readOnlyRootFilesystem 6 bool?
    allowPrivilegeEscalation 7 bool? runAsGroup 8 i64? procMount 9 s?
    windowsOptions 10 WindowsSecurityContextOptions? seccompProfile 11 SeccompProfile?
    appArmorProfile 12 AppArmorProfile?
EnvFromSource: prefix 1 s configMapRef 2 ConfigMapEnvSource? secretRef 3 SecretEnvSource?
VolumeDevice: name 1 s devicePath 2 s
ContainerResizePolicy: resourceName 1 s restartPolicy 2 s
SELinuxOptions: user 1 s role 2 s type 3 s level 4 s
Sysctl: name 1 s value 2 s
WindowsSecurityContextOptions: gmsaCredentialSpecName 1 s? gmsaCredentialSpec 2 s? runAsUserName 3 s?
    hostProcess 4 bool?
SeccompProfile: type 1 s localhostProfile 2 s?
AppArmorProfile: type 1 s localhostProfile 2 s?
NodeAffinity: requiredDuringSchedulingIgnoredDuringExecution 1 NodeSelector?
    preferredDuringSchedulingIgnoredDuringExecution 2 PreferredSchedulingTerm*
PodAffinity: requiredDuringSchedulingIgnoredDuringExecution 1 PodAffinityTerm*
    preferredDuringSchedulingIgnoredDuringExecution 2 WeightedPodAffinityTerm*
PodAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution 1 PodAffinityTerm*
    preferredDuringSchedulingIgnoredDuringExecution 2 WeightedPodAffinityTerm*
PodDNSConfigOption: name 1 s value 2 s?
EphemeralContainerCommon: name 1 s image 2 s command 3 s* args 4 s* workingDir 5 s
    ports 6 ContainerPort* env 7 EnvVar* resources 8 ResourceRequirements volumeMounts 9 VolumeMount*
    livenessProbe 10 Probe? readinessProbe 11 Probe? lifecycle 12 Lifecycle? terminationMessagePath 13 s
    imagePullPolicy 14 s securityContext 15 SecurityContext? stdin 16 bool stdinOnce 17 bool tty 18 bool
    envFrom 19 EnvFromSource* terminationMessagePolicy 20 s volumeDevices 21 VolumeDevice*
    startupProbe 22 Probe? resizePolicy 23 ContainerResizePolicy* restartPolicy 24 s?
ResourceClaim: name 1 s request 2 s
ContainerState: waiting 1 ContainerStateWaiting? running 2 ContainerStateRunning?
    terminated 3 ContainerStateTerminated?
VolumeMountStatus: name 1 s mountPath 2 s readOnly 3 bool recursiveReadOnly 4 s?
ContainerUser: linux 1 LinuxContainerUser?
ResourceStatus: name 1 s resources 2 ResourceHealth*
ClientIPConfig: timeoutSeconds 1 i32?
LoadBalancerIngress: ip 1 s hostname 2 s ipMode 3 s? ports 4 PortStatus*
ConfigMapNodeConfigSource: namespace 1 s name 2 s uid 3 s resourceVersion 4 s kubeletConfigKey 5 s
DaemonEndpoint: Port 1 i32
NodeRuntimeHandlerFeatures: recursiveReadOnlyMounts 1 bool? userNamespaces 2 bool?
HostPathVolumeSource: path 1 s type 2 s?
EmptyDirVolumeSource: medium 1 s sizeLimit 2 qty?
GCEPersistentDiskVolumeSource: pdName 1 s fsType 2 s partition 3 i32 readOnly 4 bool
AWSElasticBlockStoreVolumeSource: volumeID 1 s fsType 2 s partition 3 i32 readOnly 4 bool
GitRepoVolumeSource: repository 1 s revision 2 s directory 3 s
SecretVolumeSource: secretName 1 s items 2 KeyToPath* defaultMode 3 i32? optional 4 bool?
NFSVolumeSource: server 1 s path 2 s readOnly 3 bool
ISCSIVolumeSource: targetPortal 1 s iqn 2 s lun 3 i32 iscsiInterface 4 s fsType 5 s readOnly 6 bool
    portals 7 s* chapAuthDiscovery 8 bool secretRef 10 LocalObjectReference? chapAuthSession 11 bool
    initiatorName 12 s?
GlusterfsVolumeSource: endpoints 1 s path 2 s readOnly 3 bool
PersistentVolumeClaimVolumeSource: claimName 1 s readOnly 2 bool
RBDVolumeSource: monitors 1 s* image 2 s fsType 3 s pool 4 s user 5 s keyring 6 s
    secretRef 7 LocalObjectReference? readOnly 8 bool
FlexVolumeSource: driver 1 s fsType 2 s secretRef 3 LocalObjectReference? readOnly 4 bool options 5 {s}
CinderVolumeSource: volumeID 1 s fsType 2 s readOnly 3 bool secretRef 4 LocalObjectReference?
CephFSVolumeSource: monitors 1 s* path 2 s user 3 s secretFile 4 s secretRef 5 LocalObjectReference?
    readOnly 6 bool
FlockerVolumeSource: datasetName 1 s datasetUUID 2 s
DownwardAPIVolumeSource: items 1 DownwardAPIVolumeFile* defaultMode 2 i32?
FCVolumeSource: targetWWNs 1 s* lun 2 i32? fsType 3 s readOnly 4 bool wwids 5 s*
AzureFileVolumeSource: secretName 1 s shareName 2 s readOnly 3 bool
ConfigMapVolumeSource: localObjectReference 1 ^LocalObjectReference items 2 KeyToPath*
    defaultMode 3 i32? optional 4 bool?
VsphereVirtualDiskVolumeSource: volumePath 1 s fsType 2 s storagePolicyName 3 s storagePolicyID 4 s
QuobyteVolumeSource: registry 1 s volume 2 s readOnly 3 bool user 4 s group 5 s tenant 6 s
AzureDiskVolumeSource: diskName 1 s diskURI 2 s cachingMode 3 s? fsType 4 s? readOnly 5 bool? kind 6 s?
PhotonPersistentDiskVolumeSource: pdID 1 s fsType 2 s
PortworxVolumeSource: volumeID 1 s fsType 2 s readOnly 3 bool
ScaleIOVolumeSource: gateway 1 s system 2 s secretRef 3 LocalObjectReference? sslEnabled 4 bool
    protectionDomain 5 s storagePool 6 s storageMode 7 s volumeName 8 s fsType 9 s readOnly 10 bool
ProjectedVolumeSource: sources 1 VolumeProjection* defaultMode 2 i32?
StorageOSVolumeSource: volumeName 1 s volumeNamespace 2 s fsType 3 s readOnly 4 bool
    secretRef 5 LocalObjectReference?
CSIVolumeSource: driver 1 s readOnly 2 bool? fsType 3 s? volumeAttributes 4 {s}
    nodePublishSecretRef 5 LocalObjectReference?
EphemeralVolumeSource: volumeClaimTemplate 1 PersistentVolumeClaimTemplate?
ImageVolumeSource: reference 1 s pullPolicy 2 s
EnvVarSource: fieldRef 1 ObjectFieldSelector? resourceFieldRef 2 ResourceFieldSelector?
    configMapKeyRef 3 ConfigMapKeySelector? secretKeyRef 4 SecretKeySelector?
ProbeHandler: exec 1 ExecAction? httpGet 2 HTTPGetAction? tcpSocket 3 TCPSocketAction?
    grpc 4 GRPCAction?
LifecycleHandler: exec 1 ExecAction? httpGet 2 HTTPGetAction? tcpSocket 3 TCPSocketAction?
    sleep 4 SleepAction?
Capabilities: add 1 s* drop 2 s*
ConfigMapEnvSource: localObjectReference 1 ^LocalObjectReference optional 2 bool?
SecretEnvSource: localObjectReference 1 ^LocalObjectReference optional 2 bool?
NodeSelector: nodeSelectorTerms 1 NodeSelectorTerm*
PreferredSchedulingTerm: weight 1 i32 preference 2 NodeSelectorTerm
PodAffinityTerm: labelSelector 1 LabelSelector? namespaces 2 s* topologyKey 3 s
    namespaceSelector 4 LabelSelector? matchLabelKeys 5 s* mismatchLabelKeys 6 s*
WeightedPodAffinityTerm: weight 1 i32 podAffinityTerm 2 PodAffinityTerm
ContainerStateWaiting: reason 1 s message 2 s
ContainerStateRunning: startedAt 1 time
ContainerStateTerminated: exitCode 1 i32 signal 2 i32 reason 3 s message 4 s startedAt 5 time
    finishedAt 6 time containerID 7 s
LinuxContainerUser: uid 1 i64 gid 2 i64 supplementalGroups 3 i64*
ResourceHealth: resourceID 1 s health 2 s
PortStatus: port 1 i32 protocol 2 s error 3 s?
KeyToPath: key 1 s path 2 s mode 3 i32?
DownwardAPIVolumeFile: path 1 s fieldRef 2 ObjectFieldSelector?
    resourceFieldRef 3 ResourceFieldSelector? mode 4 i32?
VolumeProjection: secret 1 SecretProjection? downwardAPI 2 DownwardAPIProjection?
    configMap 3 ConfigMapProjection? serviceAccountToken 4 ServiceAccountTokenProjection?
    clusterTrustBundle 5 ClusterTrustBundleProjection?
PersistentVolumeClaimTemplate: metadata 1 ObjectMeta spec 2 PersistentVolumeClaimSpec
ObjectFieldSelector: apiVersion 1 s fieldPath 2 s
ResourceFieldSelector: containerName 1 s resource 2 s divisor 3 qty
ConfigMapKeySelector: localObjectReference 1 ^LocalObjectReference key 2 s optional 3 bool?
SecretKeySelector: localObjectReference 1 ^LocalObjectReference key 2 s optional 3 bool?
ExecAction: command 1 s*
HTTPGetAction: path 1 s port 2 ios host 3 s scheme 4 s httpHeaders 5 HTTPHeader*
TCPSocketAction: port 1 ios host 2 s
GRPCAction: port 1 i32 service 2 s?
SleepAction: seconds 1 i64
NodeSelectorTerm: matchExpressions 1 NodeSelectorRequirement* matchFields 2 NodeSelectorRequirement*
SecretProjection: localObjectReference 1 ^LocalObjectReference items 2 KeyToPath* optional 4 bool?
DownwardAPIProjection: items 1 DownwardAPIVolumeFile*
ConfigMapProjection: localObjectReference 1 ^LocalObjectReference items 2 KeyToPath* optional 4 bool?
ServiceAccountTokenProjection: audience 1 s expirationSeconds 2 i64? path 3 s
ClusterTrustBundleProjection: name 1 s? signerName 2 s? labelSelector 3 LabelSelector? path 4 s
    optional 5 bool?
HTTPHeader: name 1 s value 2 s
NodeSelectorRequirement: key 1 s operator 2 s values 3 s*
[apps]
Deployment: metadata 1 ObjectMeta spec 2 DeploymentSpec status 3 DeploymentStatus
ReplicaSet: metadata 1 ObjectMeta spec 2 ReplicaSetSpec status 3 ReplicaSetStatus
StatefulSet: metadata 1 ObjectMeta spec 2 StatefulSetSpec status 3 StatefulSetStatus
DaemonSet: metadata 1 ObjectMeta spec 2 DaemonSetSpec status 3 DaemonSetStatus
ControllerRevision: metadata 1 ObjectMeta data 2 json revision 3 i64
DeploymentSpec: replicas 1 i32? selector 2 LabelSelector? template 3 PodTemplateSpec
    strategy 4 DeploymentStrategy minReadySeconds 5 i32 revisionHistoryLimit 6 i32? paused 7 bool
    progressDeadlineSeconds 9 i32?
DeploymentStatus: observedGeneration 1 i64 replicas 2 i32 updatedReplicas 3 i32 availableReplicas 4 i32
    unavailableReplicas 5 i32 conditions 6 DeploymentCondition* readyReplicas 7 i32
    collisionCount 8 i32?
ReplicaSetSpec: replicas 1 i32? selector 2 LabelSelector? template 3 PodTemplateSpec
    minReadySeconds 4 i32
ReplicaSetStatus: replicas 1 i32 fullyLabeledReplicas 2 i32 observedGeneration 3 i64 readyReplicas 4 i32
    availableReplicas 5 i32 conditions 6 ReplicaSetCondition*
StatefulSetSpec: replicas 1 i32? selector 2 LabelSelector? template 3 PodTemplateSpec
    volumeClaimTemplates 4 PersistentVolumeClaim* serviceName 5 s podManagementPolicy 6 s
    updateStrategy 7 StatefulSetUpdateStrategy revisionHistoryLimit 8 i32? minReadySeconds 9 i32
    persistentVolumeClaimRetentionPolicy 10 StatefulSetPersistentVolumeClaimRetentionPolicy?
    ordinals 11 StatefulSetOrdinals?
StatefulSetStatus: observedGeneration 1 i64 replicas 2 i32 readyReplicas 3 i32 currentReplicas 4 i32
    updatedReplicas 5 i32 currentRevision 6 s updateRevision 7 s collisionCount 9 i32?
    conditions 10 StatefulSetCondition* availableReplicas 11 i32
DaemonSetSpec: selector 1 LabelSelector? template 2 PodTemplateSpec
    updateStrategy 3 DaemonSetUpdateStrategy minReadySeconds 4 i32 revisionHistoryLimit 6 i32?
DaemonSetStatus: currentNumberScheduled 1 i32 numberMisscheduled 2 i32 desiredNumberScheduled 3 i32
    numberReady 4 i32 observedGeneration 5 i64 updatedNumberScheduled 6 i32 numberAvailable 7 i32
    numberUnavailable 8 i32 collisionCount 9 i32? conditions 10 DaemonSetCondition*
DeploymentStrategy: type 1 s rollingUpdate 2 RollingUpdateDeployment?
DeploymentCondition: type 1 s status 2 s reason 4 s message 5 s lastUpdateTime 6 time
    lastTransitionTime 7 time
ReplicaSetCondition: type 1 s status 2 s lastTransitionTime 3 time reason 4 s message 5 s
StatefulSetUpdateStrategy: type 1 s rollingUpdate 2 RollingUpdateStatefulSetStrategy?
StatefulSetPersistentVolumeClaimRetentionPolicy: whenDeleted 1 s whenScaled 2 s
StatefulSetOrdinals: start 1 i32
StatefulSetCondition: type 1 s status 2 s lastTransitionTime 3 time reason 4 s message 5 s
DaemonSetUpdateStrategy: type 1 s rollingUpdate 2 RollingUpdateDaemonSet?
DaemonSetCondition: type 1 s status 2 s lastTransitionTime 3 time reason 4 s message 5 s
RollingUpdateDeployment: maxUnavailable 1 ios? maxSurge 2 ios?
RollingUpdateStatefulSetStrategy: partition 1 i32? maxUnavailable 2 ios?
RollingUpdateDaemonSet: maxUnavailable 1 ios? maxSurge 2 ios?
[events]
Event: metadata 1 ObjectMeta eventTime 2 mtime series 3 EventSeries? reportingController 4 s
    reportingInstance 5 s action 6 s reason 7 s regarding 8 ObjectReference related 9 ObjectReference?
    note 10 s type 11 s deprecatedSource 12 EventSource deprecatedFirstTimestamp 13 time
    deprecatedLastTimestamp 14 time deprecatedCount 15 i32
EventSeries: count 1 i32 lastObservedTime 2 mtime
[coord]
Lease: metadata 1 ObjectMeta spec 2 LeaseSpec
LeaseSpec: holderIdentity 1 s? leaseDurationSeconds 2 i32? acquireTime 3 mtime? renewTime 4 mtime?
    leaseTransitions 5 i32? strategy 6 s? preferredHolder 7 s?
[autoscaling]
Scale: metadata 1 ObjectMeta spec 2 ScaleSpec status 3 ScaleStatus
ScaleSpec: replicas 1 i32
ScaleStatus: replicas 1 i32 selector 2 s
[apiext]
CustomResourceDefinition: metadata 1 ObjectMeta spec 2 CustomResourceDefinitionSpec
    status 3 CustomResourceDefinitionStatus
CustomResourceDefinitionSpec: group 1 s names 3 CustomResourceDefinitionNames scope 4 s
    versions 7 CustomResourceDefinitionVersion* conversion 9 CustomResourceConversion?
    preserveUnknownFields 10 bool
CustomResourceDefinitionStatus: conditions 1 CustomResourceDefinitionCondition*
    acceptedNames 2 CustomResourceDefinitionNames storedVersions 3 s*
CustomResourceDefinitionNames: plural 1 s singular 2 s shortNames 3 s* kind 4 s listKind 5 s
    categories 6 s*
CustomResourceDefinitionVersion: name 1 s served 2 bool storage 3 bool
    schema 4 CustomResourceValidation? subresources 5 CustomResourceSubresources?
    additionalPrinterColumns 6 CustomResourceColumnDefinition* deprecated 7 bool deprecationWarning 8 s?
    selectableFields 9 SelectableField*
CustomResourceConversion: strategy 1 s webhook 2 WebhookConversion?
CustomResourceDefinitionCondition: type 1 s status 2 s lastTransitionTime 3 time reason 4 s message 5 s
CustomResourceValidation: openAPIV3Schema 1 JSONSchemaProps?
CustomResourceSubresources: status 1 CustomResourceSubresourceStatus?
    scale 2 CustomResourceSubresourceScale?
CustomResourceColumnDefinition: name 1 s type 2 s format 3 s description 4 s priority 5 i32 jsonPath 6 s
SelectableField: jsonPath 1 s
WebhookConversion: clientConfig 2 WebhookClientConfig conversionReviewVersions 3 s*
JSONSchemaProps: id 1 s $schema 2 s $ref 3 s? description 4 s type 5 s format 6 s title 7 s
    default 8 json? maximum 9 f64? exclusiveMaximum 10 bool minimum 11 f64? exclusiveMinimum 12 bool
    maxLength 13 i64? minLength 14 i64? pattern 15 s maxItems 16 i64? minItems 17 i64?
    uniqueItems 18 bool multipleOf 19 f64? enum 20 json* maxProperties 21 i64? minProperties 22 i64?
    required 23 s* items 24 orarray? allOf 25 JSONSchemaProps* oneOf 26 JSONSchemaProps*
    anyOf 27 JSONSchemaProps* not 28 JSONSchemaProps? properties 29 {JSONSchemaProps}
    additionalProperties 30 orbool? patternProperties 31 {JSONSchemaProps} dependencies 32 {orstrs}
    additionalItems 33 orbool? definitions 34 {JSONSchemaProps} externalDocs 35 ExternalDocumentation?
    example 36 json? nullable 37 bool x-kubernetes-preserve-unknown-fields 38 bool?
    x-kubernetes-embedded-resource 39 bool x-kubernetes-int-or-string 40 bool
    x-kubernetes-list-map-keys 41 s* x-kubernetes-list-type 42 s? x-kubernetes-map-type 43 s?
    x-kubernetes-validations 44 ValidationRule*
CustomResourceSubresourceStatus:
CustomResourceSubresourceScale: specReplicasPath 1 s statusReplicasPath 2 s labelSelectorPath 3 s?
WebhookClientConfig: service 1 ServiceReference? caBundle 2 b url 3 s?
ExternalDocumentation: description 1 s url 2 s
ValidationRule: rule 1 s message 2 s messageExpression 3 s reason 4 s? fieldPath 5 s
    optionalOldSelf 6 bool?
ServiceReference: namespace 1 s name 2 s path 3 s? port 4 i32?
[apireg]
APIService: metadata 1 ObjectMeta spec 2 APIServiceSpec status 3 APIServiceStatus
APIServiceSpec: service 1 ServiceReference? group 2 s version 3 s insecureSkipTLSVerify 4 bool
    caBundle 5 b groupPriorityMinimum 7 i32 versionPriority 8 i32
APIServiceStatus: conditions 1 APIServiceCondition*
ServiceReference: namespace 1 s name 2 s port 3 i32?
APIServiceCondition: type 1 s status 2 s lastTransitionTime 3 time reason 4 s message 5 s
"""
