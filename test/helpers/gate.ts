/**
 * A point where a test holds the code it drives: `arrive()` resolves `reached` and then waits until the
 * test calls `release()`. The test waits for `reached` instead of sleeping.
 */
export interface Gate {
  readonly reached: Promise<void>;
  arrive(): Promise<void>;
  release(): void;
}

export function gate(): Gate {
  let reach = (): void => undefined;
  let release = (): void => undefined;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    reached,
    arrive: () => {
      reach();
      return released;
    },
    release: () => release(),
  };
}
