package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.EnumMap;
import java.util.Map;

/** An API enum whose manifest spelling is its constants' {@code @JsonProperty} name. */
public interface WireNamed {

  /** The name used in manifests, e.g. "python" or "SelfManaged". */
  default String value() {
    return Names.NAMES.get(((Enum<?>) this).getDeclaringClass()).get(this);
  }

  /** The manifest names of each enum type, read once from the annotations. */
  final class Names {
    private static final ClassValue<Map<Object, String>> NAMES =
        new ClassValue<>() {
          @Override
          @SuppressWarnings({"unchecked", "rawtypes"})
          protected Map<Object, String> computeValue(Class<?> type) {
            Map names = new EnumMap(type);
            for (Object constant : type.getEnumConstants()) {
              String name = ((Enum<?>) constant).name();
              try {
                JsonProperty property = type.getField(name).getAnnotation(JsonProperty.class);
                names.put(constant, property == null ? name : property.value());
              } catch (NoSuchFieldException e) {
                throw new IllegalStateException(e);
              }
            }
            return names;
          }
        };

    private Names() {}
  }
}
