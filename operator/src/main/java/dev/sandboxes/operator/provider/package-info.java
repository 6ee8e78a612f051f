/**
 * The provider SPI: what the operator hands a backend for one SandboxProvider (its effective {@link
 * dev.sandboxes.operator.provider.ProviderSettings}, the decoded Secrets and listeners in a {@link
 * dev.sandboxes.operator.provider.BackendContext}) and how the Secrets and ConfigMaps that
 * providers and executions refer to are read ({@link
 * dev.sandboxes.operator.provider.ReferencedObjects}). It depends on no controller and no backend,
 * so both can depend on it.
 */
package dev.sandboxes.operator.provider;
