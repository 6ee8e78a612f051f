package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.pool.Refill;
import dev.sandboxes.operator.backend.pool.StartBackoff;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The warm pods of one SelfManaged provider, all runtimes. An informer (selected by the
 * provider-uid label) shows the pods, a claim is a label update under the pod's resourceVersion (so
 * two claimers, even in two processes, never get the same pod), and a claimed pod is deleted and
 * replaced once its outcome is stored, the replacement at most REPLACEMENT_DELAY after the claim.
 * See DESIGN.md in this package.
 *
 * <p>Labels are not an identity: anyone who may create pods in the namespace can copy them, and an
 * owner reference too. So the pool claims, counts and deletes only pods it created itself: the uid
 * the API server gave each pod at creation is kept here ({@code createdHere}) and must match, as
 * must the owner reference to the provider. A look-alike pod never receives code.
 */
final class PodPool implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(PodPool.class);

  /** A created pod the informer has not shown after this long is no longer counted as coming. */
  private static final Duration CREATION_VISIBLE_WITHIN = Duration.ofSeconds(60);

  private static final Duration MAINTENANCE_INTERVAL = Duration.ofSeconds(5);

  /**
   * How long a claimed pod's replacement may wait for the pod's release (its run ended and its
   * outcome stored) while other idle pods remain (see deferredReplacements).
   */
  static final Duration REPLACEMENT_DELAY = Duration.ofSeconds(1);

  /** How long a pod whose run ended may wait for its outcome to be stored before it is deleted. */
  static final Duration RELEASE_WAIT = Duration.ofSeconds(2);

  /**
   * How long a run goes before its pod's claim is recorded in the API server (markUsed). Most runs
   * end sooner, and their pods are deleted without that write: a label update sets off the
   * kubelet's pod sync, which under gVisor costs the code's run about 50 ms on a 2-core node.
   */
  static final Duration CLAIM_RECORD_DELAY = Duration.ofSeconds(1);

  /** A pod being created: counted towards the pool until the informer shows it. */
  private record Creating(Language language, Instant since) {}

  private final KubernetesClient client;
  private final String namespace;
  private final String providerUid;
  private final String providerName;
  private final int poolSize;

  /** Per runtime: the target between poolSize and maxPoolSize, from demand (see PoolSizer). */
  private final Map<Language, PoolSizer> sizers = new EnumMap<>(Language.class);

  /**
   * When each pod still starting was asked for (this process's clock): its start time once Ready.
   */
  private final Map<String, Instant> askedAt = new ConcurrentHashMap<>();

  private final Map<Language, SandboxPodTemplate> templates;
  private final Duration claimExpiry;
  private final ScheduledExecutorService executor;
  private final Runnable capacityListener;
  private final Clock clock;

  /** Runners waiting in idle Ready pods, or null when runners are exec'd per execution. */
  private final WarmRunners warmRunners;

  /**
   * Pods this pool created, by name: the uid the API server returned for each. The only proof that
   * a pod is one of ours; entries leave when the informer reports the pod deleted.
   */
  private final Map<String, String> createdHere = new ConcurrentHashMap<>();

  /**
   * Pods of this provider (owner reference) that were already there when the pool started: left by
   * an earlier operator process or backend. Idle ones are deleted, never claimed.
   */
  private final Set<String> leftovers = ConcurrentHashMap.newKeySet();

  /** A claim of this process: the pod's runtime, and when (this process's clock). */
  private record Claim(Language language, Instant at) {}

  /**
   * Pods this process claimed: the API server shows them idle until their claim is recorded (only
   * for runs past CLAIM_RECORD_DELAY), and the informer lags behind that.
   */
  private final Map<String, Claim> claimedHere = new ConcurrentHashMap<>();

  private final Map<String, Creating> creating = new ConcurrentHashMap<>();

  private volatile Duration releaseWait = RELEASE_WAIT;

  /**
   * Pods this pool created that received an execution's code: never claimable again, whatever their
   * label says, and deleted until the informer reports them gone.
   */
  private final Set<String> usedHere = ConcurrentHashMap.newKeySet();

  /**
   * The claim record of each pod claimed here whose execution sent its code: scheduled, in flight
   * or done (markUsed); cancelled when the pod is released first.
   */
  private final Map<String, CompletableFuture<Void>> claimRecords = new ConcurrentHashMap<>();

  /** Pods this process asked to delete and the informer still shows. */
  private final Map<String, Instant> deletingHere = new ConcurrentHashMap<>();

  private final Map<Language, AtomicBoolean> demand = new EnumMap<>(Language.class);
  private final AtomicBoolean maintenanceQueued = new AtomicBoolean();
  private volatile SharedIndexInformer<Pod> informer;
  private volatile boolean creationAllowed = true;
  private volatile boolean closed;
  private volatile String lastCreateError;
  private volatile String lastPodFailure;

  /** Failed creations and pods that ended before use, in a row: both pause creation. */
  private final StartBackoff backoff = new StartBackoff();

  PodPool(
      KubernetesClient client,
      String namespace,
      String providerUid,
      String providerName,
      int poolSize,
      int maxPoolSize,
      Map<Language, SandboxPodTemplate> templates,
      Duration claimExpiry,
      ScheduledExecutorService executor,
      Runnable capacityListener,
      Clock clock,
      WarmRunners warmRunners) {
    this.client = client;
    this.namespace = namespace;
    this.providerUid = providerUid;
    this.providerName = providerName;
    this.poolSize = poolSize;
    this.templates = templates;
    this.claimExpiry = claimExpiry;
    this.executor = executor;
    this.capacityListener = capacityListener;
    this.clock = clock;
    this.warmRunners = warmRunners;
    templates.keySet().forEach(language -> demand.put(language, new AtomicBoolean()));
    templates
        .keySet()
        .forEach(language -> sizers.put(language, new PoolSizer(poolSize, maxPoolSize, clock)));
  }

  /** Sets how long a released pod waits for its outcome to be stored (RELEASE_WAIT); for tests. */
  void releaseWait(Duration wait) {
    this.releaseWait = wait;
  }

  /** Starts watching and filling. Idempotent; blocks until the informer has listed the pods. */
  synchronized void start() {
    if (informer != null || closed) {
      return;
    }
    informer =
        client
            .pods()
            .inNamespace(namespace)
            .withLabel(ApiConstants.PROVIDER_UID_LABEL, providerUid)
            .inform(new Handler(), 0);
    // The informer has listed the pods: whatever of this provider exists now, this pool did not
    // make.
    for (Pod pod : informer.getStore().list()) {
      if (ownedByProvider(pod)) {
        leftovers.add(SandboxPods.name(pod));
      }
    }
    executor.scheduleWithFixedDelay(
        this::maintain,
        MAINTENANCE_INTERVAL.toMillis(),
        MAINTENANCE_INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
    requestMaintenance();
  }

  boolean started() {
    return informer != null;
  }

  /** Pauses or resumes pod creation (paused while the RuntimeClass is missing). */
  void allowCreation(boolean allowed) {
    boolean resumed = allowed && !creationAllowed;
    creationAllowed = allowed;
    if (resumed) {
      requestMaintenance();
    }
  }

  /**
   * Claims a Ready idle pod of the language, or returns empty and makes sure one is coming. Never
   * blocks on more than the few label updates it tries.
   */
  Optional<String> claim(Language language) {
    SandboxPodTemplate template = templates.get(language);
    SharedIndexInformer<Pod> pods = informer;
    if (template == null || pods == null || closed) {
      return Optional.empty();
    }
    List<Pod> candidates =
        pods.getStore().list().stream()
            .filter(pod -> usable(pod, template) && SandboxPods.ready(pod))
            .sorted(claimOrder(this::runnerWaiting))
            .toList();
    for (Pod pod : candidates) {
      String name = SandboxPods.name(pod);
      if (claimedHere.putIfAbsent(name, new Claim(language, clock.instant())) != null) {
        continue; // another thread of this process has it
      }
      if (deletingHere.containsKey(name)) {
        // Maintenance chose it for deletion meanwhile (it marks first, then looks for a claim,
        // the reverse of this order, so one of the two always sees the other).
        claimedHere.remove(name);
        continue;
      }
      // Cleared before the claim: maintenance running meanwhile must not read the demand this
      // claim satisfies as a reason to create a pod.
      demand.get(language).set(false);
      // Taken here, in memory only: only this process claims pods it created, and claimedHere keeps
      // its own threads apart. The API server learns of the claim once the code runs
      // (markUsed), off the hot path.
      sizers.get(language).claimed();
      requestMaintenance(); // the replacement, ahead of demand, or once REPLACEMENT_DELAY passed
      scheduleMaintenance(REPLACEMENT_DELAY);
      return Optional.of(name);
    }
    sizers.get(language).missed();
    demand.get(language).set(true);
    requestMaintenance();
    return Optional.empty();
  }

  /**
   * The order idle pods are claimed in: first those whose pre-started runner already waits (the
   * execution then skips an interpreter start, about a second on a fresh gVisor pod), then the
   * oldest, whose runner has had the longest to load, then by name.
   */
  static Comparator<Pod> claimOrder(Predicate<String> runnerWaiting) {
    return Comparator.comparing((Pod pod) -> !runnerWaiting.test(SandboxPods.name(pod)))
        .thenComparing((Pod pod) -> String.valueOf(pod.getMetadata().getCreationTimestamp()))
        .thenComparing(SandboxPods::name);
  }

  private boolean runnerWaiting(String podName) {
    return warmRunners != null && warmRunners.hasWaiting(podName);
  }

  /**
   * Labels the pod claimed with a PUT conditioned on its resourceVersion: a pod changed by anyone
   * since (a deletion, another process) answers 409. On 409 the pod is read again and claimed only
   * if it is still idle and still the pod this pool created: a status update by the kubelet moves
   * the resourceVersion without making the pod anyone else's.
   */
  private void writeClaim(String name, Pod seen) {
    Pod pod = seen;
    for (int attempt = 0; ; attempt++) {
      if (pod != null) {
        try {
          client.resource(claimedCopy(pod)).update();
          return;
        } catch (KubernetesClientException e) {
          if (e.getCode() != 409 || attempt >= 2) {
            throw e;
          }
        }
      }
      Pod fresh = client.pods().inNamespace(namespace).withName(name).get();
      if (fresh == null
          || !SandboxPods.idle(fresh)
          || SandboxPods.deleting(fresh)
          || !createdHere(fresh)) {
        throw new KubernetesClientException(
            "sandbox pod " + name + " was deleted or changed before it was claimed", 409, null);
      }
      pod = fresh;
    }
  }

  /**
   * Called as an execution sends its code to a pod claimed here: the pod is used, never claimable
   * again. If the run is still going CLAIM_RECORD_DELAY later, the claim is recorded in the API
   * server (the state label, with the pod's resourceVersion as precondition) so that a newer
   * operator process leaves the pod alone and the claim sweep finds it should this process die. It
   * is not what keeps two envelopes apart (claimedHere, usedHere, createdHere and the runner's
   * once-only marker are). A failed write is logged: the run goes on, and ends as a sandbox failure
   * if the pod was deleted.
   */
  void markUsed(String podName) {
    if (!claimedHere.containsKey(podName)) {
      return;
    }
    usedHere.add(podName);
    claimRecords.computeIfAbsent(
        podName,
        name -> {
          // Skipped when cancelled first (the pod was released before the delay ran out).
          CompletableFuture<Void> write =
              CompletableFuture.runAsync(
                  () -> writeClaim(name, cached(name).orElse(null)),
                  CompletableFuture.delayedExecutor(
                      CLAIM_RECORD_DELAY.toMillis(),
                      TimeUnit.MILLISECONDS,
                      ExecutionThreads.engineCalls()));
          write.whenComplete(
              (ignored, error) -> {
                if (error != null && !(error instanceof CancellationException)) {
                  LOG.warn(
                      "recording the claim of sandbox pod {}/{} failed: {}",
                      namespace,
                      name,
                      error.getMessage());
                }
              });
          return write;
        });
  }

  /** Cancels the pod's claim record if it has not been sent yet; a write under way goes on. */
  private void dropClaimRecord(String podName) {
    CompletableFuture<Void> write = claimRecords.remove(podName);
    if (write != null) {
      write.cancel(false);
    }
  }

  /**
   * A claimed pod that ran no code goes back to the idle set. Its claim never left this process
   * (markUsed runs only once code is sent), so the pod is still idle in the API server; a pod that
   * received code is deleted instead, never reused.
   */
  void giveBack(String podName) {
    if (closed || usedHere.contains(podName)) {
      release(podName); // close() already deleted the idle pods; or the pod received code
      return;
    }
    claimedHere.remove(podName);
    capacityListener.run();
    requestMaintenance();
  }

  /** A claimed pod that ran an execution: deleted, never reused. */
  void release(String podName) {
    release(podName, CompletableFuture.completedFuture(null));
  }

  /**
   * Deletes a pod whose run ended, and so lets maintenance replace it, once its outcome is stored
   * ({@code outcomeStored}) or RELEASE_WAIT passed, whichever comes first: on a small node the
   * pod's teardown and its replacement's start would otherwise compete for the CPUs with the final
   * status write. Nothing runs in the pod meanwhile but what the code left behind, which has no
   * network and dies with the pod.
   */
  void release(String podName, CompletableFuture<Void> outcomeStored) {
    outcomeStored
        .completeOnTimeout(null, releaseWait.toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete((done, error) -> deleteReleased(podName));
  }

  private void deleteReleased(String podName) {
    // Off the result path: the outcome is final once the run ended, and the DELETE round trip
    // would otherwise delay the execution's status. Should the delete fail (or never happen,
    // the operator dying now), the pod is no longer held here and the claim sweep removes it.
    Runnable deletion =
        () -> {
          dropClaimRecord(podName); // a write already under way may fail on the deleted pod: fine
          delete(podName);
          claimedHere.remove(podName);
          requestMaintenance();
        };
    try {
      executor.execute(deletion);
    } catch (RejectedExecutionException closing) {
      deletion.run();
    }
  }

  /** Drops a claim without touching the pod (it is not the one this pool created). */
  void forget(String podName) {
    claimedHere.remove(podName);
    dropClaimRecord(podName);
    requestMaintenance();
  }

  /** Whether the pod is of this provider by its owner reference (for pods named in a status). */
  boolean ownedByProvider(String podName, Pod pod) {
    return pod != null && podName.equals(SandboxPods.name(pod)) && ownedByProvider(pod);
  }

  /** Deletes a pod at once (grace period 0); a pod that is already gone is fine. */
  void delete(String podName) {
    deletingHere.put(podName, clock.instant());
    if (warmRunners != null) {
      warmRunners.forget(podName);
    }
    try {
      client.pods().inNamespace(namespace).withName(podName).withGracePeriod(0).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        deletingHere.remove(podName);
        LOG.warn("deleting sandbox pod {}/{} failed: {}", namespace, podName, e.getMessage());
      }
    }
  }

  /** Deletes a pod only if it still has this resourceVersion (nobody claimed it meanwhile). */
  private void deleteUnchanged(String podName, String resourceVersion) {
    try {
      client
          .pods()
          .inNamespace(namespace)
          .withName(podName)
          .lockResourceVersion(resourceVersion)
          .delete();
    } catch (KubernetesClientException e) {
      deletingHere.remove(podName);
      if (e.getCode() != 404 && e.getCode() != 409) {
        LOG.warn("deleting sandbox pod {}/{} failed: {}", namespace, podName, e.getMessage());
      }
    }
  }

  /** The pod as the informer last saw it. */
  Optional<Pod> cached(String podName) {
    SharedIndexInformer<Pod> pods = informer;
    return pods == null
        ? Optional.empty()
        : Optional.ofNullable(pods.getStore().getByKey(namespace + "/" + podName));
  }

  List<PoolStatus> status() {
    List<PoolStatus> result = new ArrayList<>();
    List<Pod> pods = informer == null ? List.of() : informer.getStore().list();
    for (SandboxPodTemplate template : templates.values()) {
      Language language = template.language();
      int ready = 0;
      int warm = 0;
      Set<String> claimed = new HashSet<>();
      for (Pod pod : pods) {
        if (SandboxPods.language(pod).orElse(null) != language || SandboxPods.deleting(pod)) {
          continue;
        }
        if (usable(pod, template) && SandboxPods.ready(pod)) {
          ready++;
          if (runnerWaiting(SandboxPods.name(pod))) {
            warm++;
          }
        } else if (SandboxPods.claimed(pod) && ownedByProvider(pod)) {
          claimed.add(SandboxPods.name(pod));
        }
      }
      claimedHere.forEach(
          (name, claim) -> {
            if (claim.language() == language) {
              claimed.add(name);
            }
          });
      PoolStatus status = new PoolStatus();
      status.setLanguage(language);
      status.setReady(ready);
      if (warmRunners != null) {
        status.setWarm(warm);
      }
      status.setClaimed(claimed.size());
      PoolSizer sizer = sizers.get(language);
      status.setDesired(sizer.target());
      status.setArrivalsPerMinute((int) Math.round(sizer.arrivalsPerSecond() * 60));
      status.setStartMillis((int) Math.min(Integer.MAX_VALUE, sizer.startTime().toMillis()));
      result.add(status);
    }
    return result;
  }

  /**
   * Pods of each language on their way into the pool: asked for and not yet seen, or seen idle and
   * not yet Ready.
   */
  Map<Language, Integer> starting() {
    Map<Language, Integer> result = new EnumMap<>(Language.class);
    templates.keySet().forEach(language -> result.put(language, 0));
    creating.values().forEach(c -> result.merge(c.language(), 1, Integer::sum));
    List<Pod> pods = informer == null ? List.of() : informer.getStore().list();
    for (SandboxPodTemplate template : templates.values()) {
      for (Pod pod : pods) {
        if (!creating.containsKey(SandboxPods.name(pod))
            && usable(pod, template)
            && !SandboxPods.ready(pod)) {
          result.merge(template.language(), 1, Integer::sum);
        }
      }
    }
    return result;
  }

  /**
   * Why the pool cannot provide sandboxes, if it can tell: image pulls, failing pods, creation
   * errors.
   */
  Optional<Problem> problem() {
    List<Pod> pods = informer == null ? List.of() : informer.getStore().list();
    for (Pod pod : pods) {
      if (!SandboxPods.idle(pod) || SandboxPods.deleting(pod) || !createdHere(pod)) {
        continue; // a look-alike pod must not be able to make the provider look broken either
      }
      Optional<ContainerStateWaiting> waiting = SandboxPods.waiting(pod);
      if (waiting.isEmpty() || waiting.get().getReason() == null) {
        continue;
      }
      String reason = waiting.get().getReason();
      String detail =
          waiting.get().getMessage() == null
              ? reason
              : reason + ": " + waiting.get().getMessage().strip();
      String image = pod.getSpec().getContainers().get(0).getImage();
      String language = SandboxPods.language(pod).map(Language::value).orElse("?");
      if (SandboxPods.IMAGE_PULL_REASONS.contains(reason)) {
        return Optional.of(
            new Problem(
                SandboxProviderReason.IMAGE_PULL_FAILED,
                "Sandbox pods cannot pull image "
                    + image
                    + " ("
                    + language
                    + "): "
                    + detail
                    + "; fix spec.runtimes[].image or make the image available to the nodes"));
      }
      if (SandboxPods.START_FAILURE_REASONS.contains(reason)) {
        return Optional.of(
            new Problem(
                SandboxProviderReason.SANDBOX_START_FAILING,
                "Sandbox pod "
                    + SandboxPods.name(pod)
                    + " ("
                    + language
                    + ", image "
                    + image
                    + ") cannot start: "
                    + detail));
      }
    }
    String podFailure = lastPodFailure;
    if (podFailure != null) {
      return Optional.of(new Problem(SandboxProviderReason.SANDBOX_START_FAILING, podFailure));
    }
    String createError = lastCreateError;
    if (createError != null) {
      return Optional.of(
          new Problem(
              SandboxProviderReason.SANDBOX_POD_FAILED,
              "Creating sandbox pods in namespace " + namespace + " failed: " + createError));
    }
    return Optional.empty();
  }

  /** A reason and message for the provider's Ready condition. */
  record Problem(SandboxProviderReason reason, String message) {}

  /** Stops the pool and deletes its idle pods; claimed pods are deleted when their runs end. */
  @Override
  public void close() {
    SharedIndexInformer<Pod> pods;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      pods = informer;
    }
    if (pods == null) {
      return;
    }
    // Every pod this pool created and no run holds, also one the informer does not show yet (its
    // event may lag behind the create call); not one that replaced ours under the same name.
    List<String> idle = new ArrayList<>();
    for (Map.Entry<String, String> own : createdHere.entrySet()) {
      String name = own.getKey();
      if (claimedHere.containsKey(name) || deletingHere.containsKey(name)) {
        continue;
      }
      Pod seen = pods.getStore().getByKey(namespace + "/" + name);
      if (seen != null
          && (!own.getValue().equals(seen.getMetadata().getUid()) || !SandboxPods.idle(seen))) {
        continue;
      }
      idle.add(name);
    }
    idle.forEach(this::delete);
    if (warmRunners != null) {
      warmRunners.close();
    }
    // Stopped after the deletions, so that the watch is not torn down while they are announced on
    // it.
    pods.stop();
    if (!idle.isEmpty()) {
      LOG.info(
          "deleted {} idle sandbox pod(s) of SandboxProvider {}/{}",
          idle.size(),
          namespace,
          providerName);
    }
  }

  /**
   * An idle pod this pool created, of the current template, that nobody here claimed or deletes.
   */
  private boolean usable(Pod pod, SandboxPodTemplate template) {
    String name = SandboxPods.name(pod);
    return createdHere(pod)
        && SandboxPods.idle(pod)
        && SandboxPods.language(pod).orElse(null) == template.language()
        && template.hash().equals(SandboxPods.label(pod, SandboxPodTemplate.TEMPLATE_HASH_LABEL))
        && !SandboxPods.deleting(pod)
        && !SandboxPods.ended(pod)
        && !claimedHere.containsKey(name)
        && !usedHere.contains(name)
        && !deletingHere.containsKey(name);
  }

  /** Whether this pool created the pod: same uid as at creation, and owned by the provider. */
  private boolean createdHere(Pod pod) {
    String uid = pod.getMetadata().getUid();
    return uid != null
        && uid.equals(createdHere.get(SandboxPods.name(pod)))
        && ownedByProvider(pod);
  }

  /**
   * Whether the pod's controller is this provider (by uid). Necessary, not sufficient: it can be
   * copied.
   */
  private boolean ownedByProvider(Pod pod) {
    return pod.getMetadata().getOwnerReferences() != null
        && pod.getMetadata().getOwnerReferences().stream()
            .anyMatch(
                owner ->
                    providerUid.equals(owner.getUid())
                        && ApiConstants.KIND_SANDBOX_PROVIDER.equals(owner.getKind())
                        && Boolean.TRUE.equals(owner.getController()));
  }

  /**
   * Whether the pod in the informer is still the one this pool created (not deleted and replaced).
   */
  boolean stillCreatedHere(String podName) {
    return cached(podName).map(this::createdHere).orElse(false);
  }

  private Pod claimedCopy(Pod pod) {
    Map<String, String> labels = new LinkedHashMap<>(pod.getMetadata().getLabels());
    labels.put(ApiConstants.STATE_LABEL, SandboxPodTemplate.STATE_CLAIMED);
    Map<String, String> annotations =
        pod.getMetadata().getAnnotations() == null
            ? new LinkedHashMap<>()
            : new LinkedHashMap<>(pod.getMetadata().getAnnotations());
    annotations.put(SandboxPodTemplate.CLAIMED_AT_ANNOTATION, clock.instant().toString());
    return new PodBuilder(pod)
        .editMetadata()
        .withLabels(labels)
        .withAnnotations(annotations)
        .endMetadata()
        .build();
  }

  private void scheduleMaintenance(Duration delay) {
    try {
      executor.schedule(this::requestMaintenance, delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      // closed: nothing to maintain
    }
  }

  private void requestMaintenance() {
    if (!closed && maintenanceQueued.compareAndSet(false, true)) {
      executor.execute(
          () -> {
            maintenanceQueued.set(false);
            maintain();
          });
    }
  }

  /**
   * Removes stale, ended and forgotten pods, then brings every runtime to its target (PoolSizer).
   */
  private synchronized void maintain() {
    SharedIndexInformer<Pod> pods = informer;
    if (closed || pods == null) {
      return;
    }
    try {
      // Pods being created, read before the informer's store: the informer adds a pod to its store
      // before its handler drops the pod from `creating`, so each pod counts in at least one of
      // the two. Read the other way round, a pod added in between counts in neither, and the pool
      // creates one pod too many, for good.
      Map<String, Creating> comingBefore = Map.copyOf(creating);
      List<Pod> all = pods.getStore().list();
      Instant now = clock.instant();
      Set<String> present = new HashSet<>();
      for (Pod pod : all) {
        String name = SandboxPods.name(pod);
        present.add(name);
        if (SandboxPods.deleting(pod) || deletingHere.containsKey(name)) {
          continue;
        }
        if (usedHere.contains(name) && !claimedHere.containsKey(name) && createdHere(pod)) {
          // Its run is over and its release's delete failed: never reused, deleted again.
          deletingHere.put(name, now);
          executor.execute(() -> delete(name));
          continue;
        }
        Optional<Language> language = SandboxPods.language(pod);
        SandboxPodTemplate template = language.map(templates::get).orElse(null);
        if (SandboxPods.idle(pod)) {
          if (!createdHere(pod)) {
            if (leftovers.contains(name)) {
              // Left by an earlier process: never claimed (it might not be what it seems), deleted
              // unless someone claims it meanwhile (the delete carries its resourceVersion).
              LOG.debug(
                  "deleting idle sandbox pod {}/{} left by an earlier operator process",
                  namespace,
                  name);
              String version = pod.getMetadata().getResourceVersion();
              executor.execute(() -> deleteUnchanged(name, version));
              deletingHere.put(name, now);
            }
            // Anything else is not ours: a look-alike is neither claimed, counted nor touched.
          } else if (claimedHere.containsKey(name)) {
            // Claimed here; its label says idle until the run records the claim (if it runs that
            // long). The run decides what becomes of it (an ended pod's status classifies it).
          } else if (template == null
              || !template
                  .hash()
                  .equals(SandboxPods.label(pod, SandboxPodTemplate.TEMPLATE_HASH_LABEL))) {
            if (markDeleting(name, now)) {
              LOG.debug("deleting idle sandbox pod {}/{}: its template changed", namespace, name);
              executor.execute(() -> delete(name));
            }
          } else if (SandboxPods.ended(pod)) {
            if (markDeleting(name, now)) {
              recordPodFailure(pod);
              executor.execute(() -> delete(name));
            }
          } else if (warmRunners != null && usable(pod, template) && SandboxPods.ready(pod)) {
            warmRunners.ensure(
                name, template.language()); // a runner whose stream ended is replaced
          }
        } else if (SandboxPods.claimed(pod)
            && ownedByProvider(pod)
            && !claimedHere.containsKey(name)
            && claimExpired(pod, now)) {
          // Claimed by a process that died before it recorded the execution: nobody will use it.
          LOG.info(
              "deleting sandbox pod {}/{}: claimed more than {}s ago and not in use",
              namespace,
              name,
              claimExpiry.toSeconds());
          executor.execute(() -> delete(name));
          deletingHere.put(name, now);
        }
      }
      // A pod counts as coming until it is both visible and confirmed as created by this pool.
      creating
          .entrySet()
          .removeIf(
              e ->
                  (present.contains(e.getKey()) && createdHere.containsKey(e.getKey()))
                      || Duration.between(e.getValue().since(), now)
                              .compareTo(CREATION_VISIBLE_WITHIN)
                          > 0);
      deletingHere.keySet().removeIf(name -> !present.contains(name));
      if (!creationAllowed || backoff.pausing()) {
        return;
      }
      // Not from `creating` again: a pod the informer added since would fall between the two reads.
      Map<String, Creating> coming = new HashMap<>(comingBefore);
      // Counted as pods already, once visible and confirmed as ours (a pod counts as available only
      // then, see usable(); createdHere only grows while the pod exists, so it stays counted).
      coming.keySet().removeIf(name -> present.contains(name) && createdHere.containsKey(name));
      coming
          .values()
          .removeIf(c -> Duration.between(c.since(), now).compareTo(CREATION_VISIBLE_WITHIN) > 0);
      for (SandboxPodTemplate template : templates.values()) {
        topUp(template, all, coming.values());
      }
    } catch (RuntimeException e) {
      LOG.warn(
          "maintaining the sandbox pool of SandboxProvider {}/{} failed: {}",
          namespace,
          providerName,
          e.toString());
    }
  }

  private void topUp(
      SandboxPodTemplate template, List<Pod> all, Collection<Creating> beingCreated) {
    Language language = template.language();
    int target = sizers.get(language).target();
    long coming = beingCreated.stream().filter(c -> c.language() == language).count();
    long available = all.stream().filter(pod -> usable(pod, template)).count();
    boolean unserved = demand.get(language).get();
    Refill refill = Refill.plan(target, available, coming, unserved);
    long toStart =
        Math.max(0, refill.toStart() - deferredReplacements(language, available, unserved));
    for (int i = 0; i < toStart; i++) {
      Pod pod = template.newPod();
      String name = SandboxPods.name(pod);
      creating.put(name, new Creating(language, clock.instant()));
      askedAt.put(name, clock.instant());
      executor.execute(() -> create(pod));
    }
    if (refill.surplus() > 0 && !demand.get(language).get()) {
      shrink(template, all, refill.surplus());
    }
  }

  private long deferredReplacements(Language language, long available, boolean unserved) {
    List<Instant> claims =
        claimedHere.values().stream()
            .filter(claim -> claim.language() == language)
            .map(Claim::at)
            .toList();
    return deferredReplacements(claims, clock.instant(), available, unserved);
  }

  /**
   * How many replacements of claimed pods wait: a claimed pod is replaced once it is released (its
   * run ended and its outcome is stored) or REPLACEMENT_DELAY passed, whichever comes first, as
   * long as other idle pods remain and no claim went unserved. A replacement's start (a gVisor
   * sandbox boots on the node's CPUs) would otherwise compete with the execution that just claimed
   * its pod and with its final status write, on a small node most of all.
   *
   * @param claims when each pod claimed here and not yet released was claimed
   * @param available idle pods left (ready or starting)
   * @param unserved whether a claim found no pod since the last refill
   */
  static long deferredReplacements(
      Collection<Instant> claims, Instant now, long available, boolean unserved) {
    if (unserved || available == 0) {
      return 0;
    }
    Instant recent = now.minus(REPLACEMENT_DELAY);
    return claims.stream().filter(at -> at.isAfter(recent)).count();
  }

  /**
   * Marks an idle pod of this pool as being deleted here, unless this process claimed it. claim()
   * records its claim first and then looks for this mark; this marks first and then looks for a
   * claim: of a claim and a deletion racing for one pod, at most one goes ahead.
   */
  private boolean markDeleting(String name, Instant now) {
    deletingHere.put(name, now);
    if (claimedHere.containsKey(name)) {
      deletingHere.remove(name, now);
      return false;
    }
    return true;
  }

  /**
   * Deletes idle Ready pods above the target (demand fell), newest first: the oldest have their
   * runners warm the longest. Never a pod claimed here (markDeleting); the delete carries the
   * resourceVersion the informer saw, so a pod changed meanwhile waits for the next round.
   */
  private void shrink(SandboxPodTemplate template, List<Pod> all, int excess) {
    List<Pod> idle =
        all.stream()
            .filter(pod -> usable(pod, template) && SandboxPods.ready(pod))
            .sorted(
                Comparator.comparing(
                        (Pod pod) -> String.valueOf(pod.getMetadata().getCreationTimestamp()))
                    .reversed())
            .limit(excess)
            .toList();
    for (Pod pod : idle) {
      String name = SandboxPods.name(pod);
      String version = pod.getMetadata().getResourceVersion();
      if (!markDeleting(name, clock.instant())) {
        continue;
      }
      if (warmRunners != null) {
        warmRunners.forget(name);
      }
      LOG.debug(
          "deleting idle sandbox pod {}/{}: the pool shrinks to {}",
          namespace,
          name,
          sizers.get(template.language()).target());
      executor.execute(() -> deleteUnchanged(name, version));
    }
  }

  private void create(Pod pod) {
    String name = SandboxPods.name(pod);
    try {
      Pod created = client.resource(pod).create();
      createdHere.put(name, created.getMetadata().getUid());
      requestMaintenance(); // it may be visible already and can now count as available
      if (cached(name).map(p -> SandboxPods.ready(p) && createdHere(p)).orElse(false)) {
        capacityListener.run(); // it became Ready before its uid was recorded
      }
      backoff.succeeded();
      lastCreateError = null;
      if (closed) {
        delete(name); // the pool closed while the pod was being created
      }
    } catch (KubernetesClientException e) {
      creating.remove(name);
      askedAt.remove(name);
      int inARow = backoff.failed();
      lastCreateError =
          e.getStatus() != null && e.getStatus().getMessage() != null
              ? e.getStatus().getMessage()
              : e.getMessage();
      LOG.warn(
          "creating a sandbox pod in {} failed ({} in a row): {}",
          namespace,
          inARow,
          e.getMessage());
    }
  }

  private void recordPodFailure(Pod pod) {
    backoff.failed();
    lastPodFailure =
        "Sandbox pod "
            + SandboxPods.name(pod)
            + " (image "
            + pod.getSpec().getContainers().get(0).getImage()
            + ") stopped before it was used: "
            + SandboxPods.howEnded(pod);
    LOG.warn("{}", lastPodFailure);
    executor.execute(capacityListener); // the provider probes at once and reports it (issue 19)
  }

  private boolean claimExpired(Pod pod, Instant now) {
    String claimedAt =
        pod.getMetadata().getAnnotations() == null
            ? null
            : pod.getMetadata().getAnnotations().get(SandboxPodTemplate.CLAIMED_AT_ANNOTATION);
    String since = claimedAt != null ? claimedAt : pod.getMetadata().getCreationTimestamp();
    try {
      return since != null
          && Duration.between(Instant.parse(since), now).compareTo(claimExpiry) > 0;
    } catch (DateTimeParseException e) {
      return false;
    }
  }

  /** Keeps the counts fresh and tells the queue when a pod became claimable. */
  private final class Handler implements ResourceEventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {
      if (createdHere.containsKey(SandboxPods.name(pod))) {
        creating.remove(SandboxPods.name(pod));
      }
      if (SandboxPods.ready(pod) && SandboxPods.idle(pod)) {
        onClaimable(pod);
      }
      requestMaintenance();
    }

    @Override
    public void onUpdate(Pod old, Pod pod) {
      boolean nowClaimable = SandboxPods.ready(pod) && SandboxPods.idle(pod);
      boolean wasClaimable = SandboxPods.ready(old) && SandboxPods.idle(old);
      if (nowClaimable && !wasClaimable) {
        onClaimable(pod);
      }
      if (SandboxPods.ended(pod) != SandboxPods.ended(old)
          || SandboxPods.idle(pod) != SandboxPods.idle(old)) {
        requestMaintenance();
      }
      if (startProblem(pod) && !startProblem(old) && createdHere(pod)) {
        capacityListener.run(); // the provider probes at once and reports it (issue 19)
      }
    }

    @Override
    public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
      String name = SandboxPods.name(pod);
      deletingHere.remove(name);
      claimedHere.remove(name);
      dropClaimRecord(name);
      usedHere.remove(name);
      askedAt.remove(name);
      leftovers.remove(name);
      // Only the pod we made: a look-alike of the same name deleted later must not erase our
      // record.
      createdHere.remove(name, pod.getMetadata().getUid());
      if (warmRunners != null) {
        warmRunners.forget(name);
      }
      requestMaintenance();
    }

    /** Whether the pod's container waits for a reason that means it cannot pull or start. */
    private boolean startProblem(Pod pod) {
      String reason = SandboxPods.waiting(pod).map(ContainerStateWaiting::getReason).orElse(null);
      return reason != null
          && (SandboxPods.IMAGE_PULL_REASONS.contains(reason)
              || SandboxPods.START_FAILURE_REASONS.contains(reason));
    }

    /** A wake-up costs nothing even for a pod that is not ours (the claim then finds nothing). */
    private void onClaimable(Pod pod) {
      Instant asked = askedAt.remove(SandboxPods.name(pod));
      if (asked != null) {
        SandboxPods.language(pod)
            .map(sizers::get)
            .ifPresent(sizer -> sizer.started(Duration.between(asked, clock.instant())));
      }
      if (createdHere(pod)) {
        lastPodFailure = null;
        if (warmRunners != null) {
          // The runner starts as soon as the pod can take code, ahead of any claim.
          SandboxPods.language(pod)
              .ifPresent(language -> warmRunners.ensure(SandboxPods.name(pod), language));
        }
      }
      capacityListener.run();
    }
  }
}
