/** Positional parameters for a query built from optional filters: `p(v)` appends `v` and names it `$n`. */
export function paramList(first: unknown[] = []) {
  const params = [...first];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  return { params, p };
}
