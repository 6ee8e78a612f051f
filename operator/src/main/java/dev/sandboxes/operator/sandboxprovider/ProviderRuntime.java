package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.provider.ProviderSettings;

/**
 * A provider as the operator runs it: effective settings, the live backend, and the last probe.
 * Replaced as a whole when the spec or a referenced Secret changes.
 */
public final class ProviderRuntime {

  private final String uid;
  private final String fingerprint;
  private final ProviderSettings settings;
  private final SandboxBackend backend;
  private volatile ProbeResult lastProbe;
  private volatile ProbeResult previousProbe;

  public ProviderRuntime(
      String uid, String fingerprint, ProviderSettings settings, SandboxBackend backend) {
    this.uid = uid;
    this.fingerprint = fingerprint;
    this.settings = settings;
    this.backend = backend;
  }

  public String uid() {
    return uid;
  }

  String fingerprint() {
    return fingerprint;
  }

  public ProviderSettings settings() {
    return settings;
  }

  public SandboxBackend backend() {
    return backend;
  }

  public ProbeResult lastProbe() {
    return lastProbe;
  }

  public void recordProbe(ProbeResult probe) {
    this.previousProbe = lastProbe;
    this.lastProbe = probe;
  }

  /** The probe before the last one (null before the second probe). */
  public ProbeResult previousProbe() {
    return previousProbe;
  }

  /** Ready when the last probe succeeded. */
  public boolean ready() {
    ProbeResult probe = lastProbe;
    return probe != null && probe.ready();
  }
}
