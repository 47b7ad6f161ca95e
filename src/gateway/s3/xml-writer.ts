import { escapeXmlText, S3_NAMESPACE } from './xml.js';

/**
 * Writes an S3 response document element by element, exactly as renderXml writes the same elements
 * (`<Name>text</Name>`, no whitespace between elements, text escaped the same way). For listings: a
 * page of a thousand entries cost more to build as an object tree and render than to read from the
 * index. Element names are the caller's constants, never client input.
 */
export class XmlWriter {
  private readonly root: string;
  private text: string;

  constructor(root: string) {
    this.root = root;
    this.text = `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NAMESPACE}">`;
  }

  /** An element holding text: a string (escaped), a number or a boolean. */
  field(name: string, value: string | number | boolean): this {
    this.text += `<${name}>${typeof value === 'string' ? escapeXmlText(value) : String(value)}</${name}>`;
    return this;
  }

  /** Opens an element that holds other elements. */
  open(name: string): this {
    this.text += `<${name}>`;
    return this;
  }

  /** Closes the element `open(name)` opened. */
  close(name: string): this {
    this.text += `</${name}>`;
    return this;
  }

  /** The document, its root closed. */
  end(): string {
    return `${this.text}</${this.root}>`;
  }
}
