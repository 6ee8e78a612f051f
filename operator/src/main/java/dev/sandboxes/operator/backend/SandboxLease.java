package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.Language;

/** A sandbox reserved for one execution: either run in it, or give it back unused. */
public interface SandboxLease {

  Language language();

  /** The sandbox's id when it already exists (pool members), or null (created per run). */
  String sandboxId();

  /** Returns the sandbox unused, e.g. when the write-ahead status update failed. */
  void release();
}
