/**
 * Plain text out of a document: text and Markdown as they are, HTML through html-to-text, PDF
 * through unpdf (PDF.js). Both libraries load on first use, not at startup.
 */
import { extname } from "node:path";

export type ContentType = "text" | "markdown" | "html" | "pdf";

const BY_EXTENSION: Record<string, ContentType> = {
  ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".pdf": "pdf",
};

export function contentTypeOf(fileName: string): ContentType | undefined {
  return BY_EXTENSION[extname(fileName).toLowerCase()];
}

export async function extract(bytes: Uint8Array, type: ContentType): Promise<string> {
  if (type === "pdf") {
    const { extractText, getDocumentProxy } = await import("unpdf");
    const pdf = await getDocumentProxy(new Uint8Array(bytes));
    return (await extractText(pdf, { mergePages: true })).text;
  }
  const text = new TextDecoder().decode(bytes);
  if (type === "html") return (await import("html-to-text")).convert(text, { wordwrap: false, selectors: [{ selector: "a", options: { ignoreHref: true } }, { selector: "img", format: "skip" }] });
  return text;
}
