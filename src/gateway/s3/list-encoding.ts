import { S3Error } from './errors.js';

/**
 * Encodes a listing field for `encoding-type=url`: UTF-8 percent-encoding with `/` kept. A space is
 * %20, never `+`: every client's decoder (form or path style) reads %20 as a space, while a `+`
 * comes back as a plus from decoders that follow RFC 3986, such as JavaScript's decodeURIComponent.
 */
export function urlEncodeListField(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/');
}

/** Characters XML 1.0 cannot carry, not even as character references. */
const NOT_XML_10 = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * A listing field sent as it is: refused when XML 1.0 cannot carry it (a key holding a control
 * character), since no XML parser would read the page; such keys are listed with encoding-type=url.
 */
function xmlSafeField(value: string): string {
  if (NOT_XML_10.test(value)) {
    throw new S3Error('InvalidArgument', {
      message: 'The listing holds a name that XML 1.0 cannot represent; list with encoding-type=url.',
      fields: { ArgumentName: 'encoding-type', ArgumentValue: '' },
    });
  }
  return value;
}

/**
 * The field encoder a listing's `encoding-type` asks for: `url` encodes (and the caller echoes
 * EncodingType), absent or empty leaves fields as they are, anything else is InvalidArgument.
 */
export function listFieldEncoder(encodingType: string | undefined): (value: string) => string {
  if (encodingType === undefined || encodingType === '') return xmlSafeField;
  if (encodingType !== 'url') {
    throw new S3Error('InvalidArgument', { message: 'Invalid Encoding Method specified in Request', fields: { ArgumentName: 'encoding-type', ArgumentValue: encodingType } });
  }
  return urlEncodeListField;
}
