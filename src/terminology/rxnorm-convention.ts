// The vocabulary of RxNorm's normalised-name convention (NLM RxNorm Technical Documentation, "naming conventions"
// for SCD/SBD/SCDC/SBDC/SCDF/SBDF/GPCK/BPCK): the strength units and the words dose forms are made of. These
// describe how names are written, not clinical facts; they are facts about the convention, listed here once.

/** Strength units (and the numerators of composite units such as MG/ML, UNT/ACTUAT, MG/HR). */
export const STRENGTH_UNITS: ReadonlySet<string> = new Set([
  'MG', 'MCG', 'NG', 'GM', 'G', 'KG', 'ML', 'L', 'UNT', 'MEQ', 'MMOL', 'MOL', 'ACTUAT', 'HR', 'DAY', '%',
  'CELLS', 'BAU', 'AU', 'PNU', 'SQ-HDM', 'IR', 'CFU', 'TCID50', 'CCID50', 'FFU', 'PFU', 'LFU', 'ELU', 'MCI', 'MBQ',
  'KBQ', 'BQ', 'MIU', 'MU', 'IU', 'ORGANISMS', 'SQCM', 'CM2', 'MG/MG',
]);

/**
 * Words RxNorm dose forms and dose-form groups are built from ("Extended Release Oral Tablet", "Metered Dose
 * Inhaler", "Pen Injector", "Pill", "Oral Product"). Only used to strip a trailing dose form from a name that
 * carries no strength (SCDF, SBDF, dose-form groups); a name with a strength is cut at its first strength.
 */
export const DOSE_FORM_WORDS: ReadonlySet<string> = new Set(
  [
    'oral', 'tablet', 'capsule', 'injectable', 'injection', 'solution', 'suspension', 'emulsion', 'topical', 'cream',
    'ointment', 'gel', 'lotion', 'foam', 'spray', 'powder', 'ophthalmic', 'otic', 'nasal', 'inhalant', 'inhalation',
    'inhaler', 'metered', 'dose', 'dry', 'transdermal', 'system', 'patch', 'rectal', 'vaginal', 'suppository', 'ring',
    'chewable', 'disintegrating', 'delayed', 'extended', 'release', 'prefilled', 'syringe', 'auto-injector', 'pen',
    'injector', 'cartridge', 'granules', 'sublingual', 'buccal', 'film', 'mouthwash', 'toothpaste', 'shampoo',
    'medicated', 'lozenge', 'chewing', 'gum', 'enema', 'urethral', 'irrigation', 'intraperitoneal', 'dialysis',
    'implant', 'intrauterine', 'pill', 'product', 'liquid', 'mucosal', 'cutaneous', 'effervescent', 'paste', 'jet',
    'applicator', 'pad', 'drug', 'kit', 'bar', 'soap', 'wipe', 'stick', 'pellet', 'strip', 'insert', 'tape',
    'douche', 'wafer', 'sponge', 'rinse', 'for', 'reconstitution', 'intravenous', 'intramuscular', 'subcutaneous',
    'intrathecal', 'intravesical', 'intravitreal', 'intradermal', 'drops', 'syrup', 'elixir', 'flakes',
  ].map((w) => w.toLowerCase()),
);

/** Pack members that carry no active ingredient (the placebo week of an oral contraceptive pack). */
export const INACTIVE_PACK_INGREDIENTS: ReadonlySet<string> = new Set(['inert ingredients', 'inert ingredient']);
