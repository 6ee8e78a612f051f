package dev.sandboxes.api.v1alpha1;

/**
 * Schema stand-in for a JSON object whose members are free-form: generates {@code type: object}
 * with no property schema, so that with preserve-unknown-fields any member value is kept.
 */
public final class FreeFormObject {

  private FreeFormObject() {}
}
