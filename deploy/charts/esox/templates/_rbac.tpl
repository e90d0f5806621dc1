{{- /* Rules esox needs in every namespace it serves (see rbac.yaml). */ -}}
{{- define "esox.namespacedRules" -}}
# ExternalSecrets: watched; finalizer added and removed; status written; with
# ClusterExternalSecrets, their children read, created, updated and deleted.
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets"]
  verbs: [{{ if include "esox.clusterExternalSecrets" . }}"get", {{ end }}"list", "watch", "patch"{{ if include "esox.clusterExternalSecrets" . }}, "create", "update", "delete"{{ end }}]
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the target Secrets (clusters enforcing
# OwnerReferencesPermissionEnforcement check this).
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets/finalizers"]
  verbs: ["update"]
# SecretStores: watched and validated; Ready condition written.
- apiGroups: ["external-secrets.io"]
  resources: ["secretstores"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["external-secrets.io"]
  resources: ["secretstores/status"]
  verbs: ["patch"]
{{- if .Values.processPushSecret }}
# PushSecrets: watched; finalizer added and removed; status written; with
# ClusterPushSecrets, their children read, created, updated and deleted.
- apiGroups: ["external-secrets.io"]
  resources: ["pushsecrets"]
  verbs: [{{ if include "esox.clusterPushSecrets" . }}"get", {{ end }}"list", "watch", "patch"{{ if include "esox.clusterPushSecrets" . }}, "create", "update", "delete"{{ end }}]
- apiGroups: ["external-secrets.io"]
  resources: ["pushsecrets/status"]
  verbs: ["patch"]
{{- end }}
# Generators referenced by dataFrom[].sourceRef.generatorRef and PushSecret selectors.
- apiGroups: ["generators.external-secrets.io"]
  resources: ["passwords", "uuids", "fakes", "sshkeys", "webhooks", "mfas", "vaultdynamicsecrets"]
  verbs: ["get"]
# Target Secrets written and deleted; source Secrets of PushSecrets and credentials of stores
# read; managed (and, for PushSecrets, all) Secrets watched as metadata.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
# templateFrom ConfigMaps and stores' caProvider ConfigMaps.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
# Stores authenticating as a ServiceAccount (kubernetes provider auth.serviceAccount).
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
# Events on ExternalSecrets, stores and PushSecrets.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
