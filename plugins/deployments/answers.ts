/** What gantry reads from an OpenAI-compatible answer to compare two of them: the text, the tokens, whether it failed. */

export interface ParsedAnswer {
  error: boolean;
  text: string | null;
  completionTokens: number | null;
}

/** Chat (`choices[0].message.content`) or completion (`choices[0].text`) text of a JSON answer. */
export function parseAnswer(status: number, body: string): ParsedAnswer {
  if (status >= 400) return { error: true, text: null, completionTokens: null };
  try {
    return fromJson(JSON.parse(body) as Record<string, unknown>);
  } catch {
    return { error: true, text: null, completionTokens: null };
  }
}

export function fromJson(answer: Record<string, unknown>): ParsedAnswer {
  const choice = (answer.choices as { message?: { content?: unknown }; text?: unknown }[] | undefined)?.[0];
  const content = choice?.message?.content ?? choice?.text;
  const tokens = (answer.usage as { completion_tokens?: unknown } | undefined)?.completion_tokens;
  return { error: false, text: typeof content === "string" ? content : null, completionTokens: typeof tokens === "number" ? tokens : null };
}
