/**
 * What `wfx --help` and `wfx operator --help` print. Kept apart from wfx.ts (which runs on import)
 * so that the CLI reference, docs/reference/cli.md, is generated from the same text.
 */

export const USAGE = `usage: wfx <command> [flags]
commands:
  operator                 run the operator (wfx operator --help: its flags)
  executor                 run the executor (wfx executor --help: its flags)
  get [-A]                 list workflows
  describe NAME [--timeline]   show one workflow and what it waits for (--timeline: every phase, attempt, wait and rollback to scale)
  approve NAME | reject NAME | cancel NAME | rollback NAME
  retry NAME [--wait SECONDS]   re-run the failed and skipped steps of a failed run (waits 30 s for the decision)
  diagram NAME [--format svg|mermaid|dot] [-o FILE]
  inspect [--port 8090] [-n NS] [--stately-port 8080]   live statechart inspector on http://127.0.0.1:PORT/
                           (--stately-port: also Stately's own inspector, over @statelyai/inspect's WebSocket)
  template list | template show NAME [--version V]   workflow templates
  run TEMPLATE [--version V] [-p key=value]... [--name N] [--approval] [--dry-run-first]
                           a run of a template version (its last by default)
flags: --kubeconfig PATH, -n NAMESPACE`;

export const OPERATOR_USAGE = `usage: wfx operator [flags]
  --kubeconfig PATH              default: $KUBECONFIG, else in-cluster, else ~/.kube/config
  --namespaces A,B               namespaces to watch (default: all)
  --workers N                    concurrent reconciles (4)
  --health-port N                /healthz and /ready (8080), plain HTTP; --metrics-port N: /metrics (9090), HTTPS
  --metrics-cert-dir DIR         tls.crt and tls.key for /metrics (a mounted Secret); default: self-signed at start
  --bind-address ADDR            (0.0.0.0)
  --leader-elect                 one active replica, by a Lease
  --shards N                     spread workflows over N shards, a Lease each (1; excludes --leader-elect)
  --leader-election-namespace NS (kubernaut-system); --leader-election-id NAME (workflowexecution-operator)
  --lease-duration S, --renew-deadline S, --retry-period S   (15, 10, 2)
  --log-level LEVEL              error, warn, info, debug (info)
  --audit-db PATH                SQLite audit store; --audit-postgres-url URL (or WFE_AUDIT_POSTGRES_URL)
  --executor-user USER           who may write children's status (system:serviceaccount:kubernaut-system:kubernetes-executor)
  --alertmanager-url URL         Alertmanager's API: monitoring requires a run's alert resolved, counts new alerts on touched targets
  --stability-window S           targets stay healthy this long before a run completes, unless its spec says (60; 0: first healthy check)
  --alert-webhook-port N         receive Alertmanager's webhook on POST /alerts (off; bearer token, post on /alerts)
  --progress-write-delay MS      how long step progress may wait to share a status write (1000; 0: at once)
  --retention DURATION           keep finished WorkflowExecutions this long, e.g. 24h, or "forever" (24h)
  --audit-retention-days N       keep audit rows this many days (90)
  --kube-api-qps N, --kube-api-burst N   client-side rate limit of apiserver requests (0: none, the apiserver's
                                 Priority and Fairness protects it, as controller-runtime defaults; burst 30;
                                 Lease renewals are exempt and have their own connections)
  --pickup-timeout S             a child no executor claimed within this is reported (ExecutorPickup condition, Event) (60)
  --lock-namespace NS            where the per-target lock Leases live (the --leader-election-namespace)
  --max-executing N              at most N workflows executing or rolling back in all watched namespaces (0: no limit; 0)
  --max-executing-per-namespace N   at most N per namespace (0: no limit; 0); the rest wait in validating (Blocked)
  --target-cooldown S            a target a run completed on waits this long for the next run (RecentlyRemediated) (300; 0: off)
  --target-failure-threshold N   after N failed runs in a row on a target (3; 0: off) it waits
  --target-failure-block S       this long (TargetFailing) (1800)
  --target-backoff S, --target-backoff-max S   wait after a failed run, doubling per failure (Backoff) (60, 600; 0: off)`;

export const EXECUTOR_USAGE = `usage: wfx executor [flags]
  --kubeconfig PATH              default: $KUBECONFIG, else in-cluster, else ~/.kube/config
  -n, --namespace NS             carry out the children of this namespace only (default: all)
  --identity NAME                this replica's name in claims (default: $POD_NAME, else host_pid)
  --lease-duration S             a claim not renewed for this long is taken over by another replica (15)
  --max-in-flight N              children carried out at once; more are left to other replicas (32)
  --cluster-namespace NS         where target clusters are registered as kubeconfig Secrets
                                 (default: $POD_NAMESPACE, else kubernaut-system)
  --health-port N                /healthz and /readyz (8080), plain HTTP; --metrics-port N: /metrics (9090), HTTPS
  --metrics-cert-dir DIR         tls.crt and tls.key for /metrics (a mounted Secret); default: self-signed at start
  --bind-address ADDR            (0.0.0.0)
  --log-level LEVEL              error, warn, info, debug (info)
  --development                  honour the test hooks (custom fail, sleep, hang) and the
                                 executor.kubernaut.io/* fault annotations; never in production`;
