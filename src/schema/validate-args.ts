import { validateOrReject, type ValidatorOptions } from "class-validator";
import { ArgumentValidationError, type ValidatorFn } from "type-graphql";

const OPTIONS: ValidatorOptions = { skipMissingProperties: true, forbidUnknownValues: false };
// Only instances of input classes carry constraints; a JSON scalar's plain objects and arrays (a
// trigger's payload, an agent's packed log lines) have none, and walking them cost per element.
const validatable = (value: unknown): value is object => value !== null && typeof value === "object" && !Array.isArray(value) && value.constructor !== Object && value.constructor !== undefined;

/**
 * type-graphql's own argument validation (class-validator, with the options its default uses),
 * with class-validator imported once: the built-in one imports it anew for every argument of every
 * call (its cost is in BENCHMARKS.md). Errors are the same ArgumentValidationError, which the error formatter describes.
 */
export const validateArgs: ValidatorFn = async (value) => {
  if (value === null || typeof value !== "object") return;
  try {
    if (Array.isArray(value)) await Promise.all(value.filter(validatable).map((item) => validateOrReject(item, OPTIONS)));
    else if (validatable(value)) await validateOrReject(value, OPTIONS);
  } catch (err) {
    throw new ArgumentValidationError(err as never);
  }
};
