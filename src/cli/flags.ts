import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Either, Schema } from "effect"

/**
 * Flag constructors whose parse errors name the flag. @effect/cli's own integer, float and choice
 * primitives say "'abc' is not a integer" without saying which flag it was, so these read text and
 * decode it with Effect Schema, failing with the one line runCli prints after `spade: `.
 */

const invalid = (flag: string, expected: string, value: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(`--${flag}: ${expected}, got ${JSON.stringify(value)}`))

const decodeWith =
  <A, I>(schema: Schema.Schema<A, I>, flag: string, expected: string) =>
  (value: string): Effect.Effect<A, ValidationError.ValidationError> =>
    Either.match(Schema.decodeUnknownEither(schema)(value.trim()), {
      onLeft: () => Effect.fail(invalid(flag, expected, value)),
      onRight: Effect.succeed,
    })

// Number("") is 0 and Number("0x10") is 16: accept only what a user would write as a decimal number.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i
const Decimal = Schema.String.pipe(Schema.pattern(DECIMAL))
const IntegerText = Schema.compose(Decimal, Schema.NumberFromString).pipe(Schema.int(), Schema.finite())
const NumberText = Schema.compose(Decimal, Schema.NumberFromString).pipe(Schema.finite())

/** `--name <integer>`. */
export const integer = (name: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect(decodeWith(IntegerText, name, "expected an integer")),
  )

/** `--name <number>`: finite decimals only (no Infinity, NaN or hex). */
export const float = (name: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("number"),
    Options.mapEffect(decodeWith(NumberText, name, "expected a number")),
  )

/** `--name a|b|c`: the error lists the choices. */
export const choice = <const C extends string>(name: string, choices: readonly [C, ...C[]]): Options.Options<C> =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join(" | ")),
    Options.mapEffect(decodeWith(Schema.Literal(...choices), name, `expected one of ${choices.join(", ")}`)),
  )

/**
 * A default that --help shows: @effect/cli's own help prints "This setting is optional." for
 * Options.withDefault without the value, so the value goes into the description too.
 */
export const withShownDefault =
  <const B>(value: B, shown: string = String(value)) =>
  <A>(self: Options.Options<A>): Options.Options<A | B> =>
    self.pipe(Options.withDefault(value), Options.withDescription(`Default: ${shown}.`))
